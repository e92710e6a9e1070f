import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { RunRecorder } from '../events.ts';
import { FrontResponder } from '../front-responder.ts';
import type { Responder, ResponseRequest } from '../responder.ts';
import { mentionsDocuments, withoutContext } from './document-question.ts';
import type { FoundPassage } from './hybrid-search.ts';
import type { Knowledge } from './knowledge.ts';
import { sourceName, toWire } from './sources.ts';

/**
 * The LLM with the household's documents in front of it. A question that mentions documents (every question, with
 * knowledge.always) is searched first; the passages found go to the LLM with the question, and it answers from
 * them naming the source ("according to the boiler manual, page 2"). Nothing relevant for a question about the
 * documents: it says so itself instead of letting the model guess. The passages are a `knowledge` run event, so
 * the HUD and the phone show where the answer came from.
 */

export const NOTHING_FOUND = "I couldn't find anything about that in your documents.";

export interface KnowledgeResponderOptions {
  readonly always: boolean;
  readonly answerPassages: number;
}

export class KnowledgeResponder extends FrontResponder {
  constructor(
    inner: Responder,
    private readonly knowledge: Knowledge,
    private readonly options: KnowledgeResponderOptions,
    private readonly log: Logger,
  ) {
    super(inner);
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    // "Nothing found" is ours, not the model's: its conversation never saw the question.
    this.answeredHere = false;
    const question = withoutContext(request.text);
    const titles = this.knowledge.db.titles();
    const aboutDocuments = mentionsDocuments(question, titles);
    if (titles.length === 0 || (!aboutDocuments && !this.options.always)) {
      yield* this.inner.respond(request);
      return;
    }
    const relevant = await this.#search(question, request.run);
    if (request.signal.aborted) return;
    if (relevant === undefined || (relevant.length === 0 && !aboutDocuments)) {
      yield* this.inner.respond(request);
    } else if (relevant.length === 0) {
      this.answeredHere = true;
      yield NOTHING_FOUND;
    } else {
      yield* this.inner.respond({ ...request, text: withPassages(request.text, relevant) });
    }
  }

  /** The relevant passages, reported as a run event; undefined when the search itself failed. */
  async #search(question: string, run: RunRecorder | undefined): Promise<FoundPassage[] | undefined> {
    try {
      const result = await this.knowledge.search(question, this.options.answerPassages);
      const relevant = result.passages.filter((p) => p.relevant);
      run?.emit({ type: 'knowledge', query: question, passages: relevant.map(toWire), embedMs: result.embedMs, searchMs: result.searchMs, keywordsOnly: result.keywordsOnly });
      return relevant;
    } catch (error) {
      this.log.warn({ err: describeError(error) }, 'could not search the documents; answering without them');
      return undefined;
    }
  }
}

/** The question with the passages in front, and how to use them. */
export function withPassages(text: string, passages: readonly FoundPassage[]): string {
  const quoted = passages.map((p, i) => `(${i + 1}) ${sourceName(p)}: "${p.text}"`).join('\n');
  return (
    `[From the household's documents:\n${quoted}\n` +
    'Answer from these passages only, in one or two spoken sentences, and name the source in a few words, such as ' +
    '"according to the boiler manual, page 12". If they do not answer the question, say that the documents do not say.]\n' +
    text
  );
}
