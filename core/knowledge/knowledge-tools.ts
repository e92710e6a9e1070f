import { z } from 'zod';
import type { ToolCallContext, ToolDefinition, ToolHost, ToolOutcome } from '../responder.ts';
import type { Knowledge } from './knowledge.ts';
import { sourceName, toWire } from './sources.ts';

/**
 * `searchDocuments`: the document search as a function the LLM can call, for questions that need more than one
 * look ("compare what the boiler manual and the warranty say about servicing"). Each call is a `knowledge` run
 * event like the search in front of a question.
 */

export const SEARCH_DOCUMENTS: ToolDefinition = {
  name: 'searchDocuments',
  description: "Search the household's own documents (manuals, letters, policies, notes) for passages about something; returns each passage with its source.",
  params: { type: 'object', properties: { query: { type: 'string' } } },
};

const params = z.object({ query: z.string().trim().min(1).max(300) });

export class KnowledgeTools implements ToolHost {
  readonly definitions = [SEARCH_DOCUMENTS];

  constructor(
    private readonly knowledge: Knowledge,
    private readonly passages: number,
    readonly maxCallsPerTurn: number,
  ) {}

  async call(name: string, args: unknown, context: ToolCallContext): Promise<ToolOutcome> {
    if (name !== SEARCH_DOCUMENTS.name) return { result: { ok: false, error: `there is no function called ${name}` } };
    const parsed = params.safeParse(args ?? {});
    if (!parsed.success) return { result: { ok: false, error: `bad arguments for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` } };
    const result = await this.knowledge.search(parsed.data.query, this.passages);
    const relevant = result.passages.filter((p) => p.relevant);
    context.run?.emit({ type: 'knowledge', query: parsed.data.query, passages: relevant.map(toWire), embedMs: result.embedMs, searchMs: result.searchMs, keywordsOnly: result.keywordsOnly });
    return { result: relevant.length ? { ok: true, passages: relevant.map((p) => ({ source: sourceName(p), text: p.text })) } : { ok: true, passages: [], note: 'the documents say nothing about this' } };
  }
}
