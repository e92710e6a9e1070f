import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { ChatCompletionContentPart, ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import type { JarvisConfig } from '../../config/schema.ts';
import { abortError, JarvisError } from '../../base/errors.ts';
import { imageDataUrl } from '../../base/image-type.ts';
import { apiKeyFrom, explainServerError, firstLine, ModelServerError, openAiClient, serverHost, type OpenAiServerSettings, type ServerRole } from '../../base/openai-server.ts';
import type { Responder, ResponderInfo, ResponseRequest, ToolDefinition } from '../responder.ts';
import { choiceGrammar, CLASSIFY_MAX_TOKENS, matchChoice } from './classify.ts';
import { cutOffAnswer } from './protocol.ts';

/**
 * The LLM stage answered by an OpenAI-compatible server (llama-server, Ollama, vLLM, a second machine on the
 * LAN) through the `openai` client: the same port as the in-process model, so the turn, its run events, barge-in
 * and the HUD are unchanged. The conversation is kept here, as the worker keeps it for the local model. Aborting
 * a turn aborts the HTTP request, which makes the server stop generating. Every failure becomes a JarvisError
 * with a short message the turn can say and a fix; the API key is never logged or put in an error.
 */

/** The server (no first piece within timeoutMs: treated as down) and the model asked of it. */
export interface OpenAiBackend extends OpenAiServerSettings {
  readonly model: string;
  /** The environment variable the key came from, for the fix of a refused key (default OPENAI_API_KEY). */
  readonly keyEnv?: string;
}

const MODEL_SERVER: ServerRole = { stage: 'llm', noun: 'the model server', settings: 'llm.openai', keyEnv: 'OPENAI_API_KEY' };

/** For a server behind another role than chat (llm.roles.vision): how its errors name it, and its own instructions. */
export interface OpenAiResponderOptions {
  /** Which server this is to the user (default: the chat model's, llm.openai). */
  readonly role?: ServerRole;
  /** Instead of llm.systemPrompt. */
  readonly systemPrompt?: string;
  /** How the HUD names who answered (default: "<model> at <host>"). */
  readonly name?: string;
  /** The role it answers for, on its `llm-backend` run events (the HUD shows "vision model · …"). */
  readonly answersAs?: 'code' | 'vision';
}

/** One exchange of the conversation as the server is sent it again with each question. */
interface Exchange {
  user: string;
  answer: string;
}

export class OpenAiResponder implements Responder {
  readonly engine = 'openai';
  /** It runs in another process, maybe on another machine: no worker of ours holds GPU memory for it. */
  readonly workerPid = undefined;
  readonly #client: OpenAI;
  readonly #llm: JarvisConfig['llm'];
  readonly #backend: OpenAiBackend;
  readonly #role: ServerRole;
  readonly #systemPrompt: string;
  readonly #name: string | undefined;
  readonly #answersAs: OpenAiResponderOptions['answersAs'];
  #history: Exchange[] = [];
  /** The server refused llama-server's `grammar` field once (HTTP 400): classify() no longer sends it. */
  #refusesGrammar = false;

  constructor(llm: JarvisConfig['llm'], backend: OpenAiBackend, options: OpenAiResponderOptions = {}) {
    this.#llm = llm;
    this.#backend = backend;
    this.#role = options.role ?? MODEL_SERVER;
    this.#systemPrompt = options.systemPrompt ?? llm.systemPrompt;
    this.#name = options.name;
    this.#answersAs = options.answersAs;
    this.#client = openAiClient(backend);
  }

  /** Checks the server answers and has the model. */
  async load(): Promise<ResponderInfo> {
    let ids: string[];
    try {
      const page = await this.#client.models.list();
      ids = page.data.map((m) => m.id);
    } catch (error) {
      throw this.#explain(error);
    }
    if (!ids.includes(this.#backend.model)) throw this.#missingModel(ids);
    return { summary: `OpenAI-compatible server at ${this.#backend.baseUrl}, model ${this.#backend.model}` };
  }

  /** How long the server takes to start answering: one token of a one-word question, as `jarvis doctor` reports. */
  async firstTokenMs(): Promise<number> {
    const started = performance.now();
    try {
      const stream = await this.#client.chat.completions.create({ model: this.#backend.model, messages: [{ role: 'user', content: 'Hi' }], stream: true, max_tokens: 1 });
      for await (const _ of stream) break;
    } catch (error) {
      throw this.#explain(error);
    }
    return performance.now() - started;
  }

  /**
   * One non-streamed completion of `prompt` alone (no system prompt, no history: it is not part of the
   * conversation), a few tokens long, with llama-server's `grammar` field making it one of `choices`. A server that
   * refuses the field (HTTP 400: OpenAI's own API refuses unknown fields) is asked again without it, and from then
   * on without it; its answer is then read for the choice it names. No retries: the caller has a deadline.
   */
  async classify(prompt: string, choices: readonly string[], signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const ask = async (withGrammar: boolean) => {
      const body = {
        model: this.#backend.model,
        messages: [{ role: 'user' as const, content: prompt }],
        stream: false as const,
        max_tokens: CLASSIFY_MAX_TOKENS,
        temperature: 0,
        ...(withGrammar ? { grammar: choiceGrammar(choices) } : {}),
      };
      return this.#client.chat.completions.create(body, { signal, maxRetries: 0 });
    };
    let completion: Awaited<ReturnType<typeof ask>>;
    try {
      try {
        completion = await ask(!this.#refusesGrammar);
      } catch (error) {
        if (this.#refusesGrammar || !(error instanceof APIError) || error.status !== 400 || signal.aborted) throw error;
        this.#refusesGrammar = true;
        completion = await ask(false);
      }
    } catch (error) {
      if (signal.aborted) throw abortError(signal.reason);
      throw this.#explain(error);
    }
    const answer = completion.choices[0]?.message.content ?? '';
    const choice = matchChoice(answer, choices);
    if (choice === undefined) throw new JarvisError(`${this.#role.stage}-classify-unclear`, `${this.#role.noun} at ${this.#backend.baseUrl} answered "${firstLine(answer)}", which is none of ${choices.join(', ')}`, 'Nothing to do: the rule decides.');
    return choice;
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    const { text, signal, tools } = request;
    signal.throwIfAborted();
    // Said once the server answers: a server that fails before it does has not answered this turn.
    let announced = false;
    const announce = () => {
      if (!announced) request.run?.emit({ type: 'llm-backend', backend: this.name, ...(this.#answersAs ? { role: this.#answersAs } : {}) });
      announced = true;
    };
    // A photo goes as an image part beside the question (a data URL: nothing is stored or fetched anywhere), and
    // is not kept in the conversation: only the words are.
    const question: string | ChatCompletionContentPart[] = request.image
      ? [{ type: 'text', text }, { type: 'image_url', image_url: { url: imageDataUrl(request.image.type, request.image.data) } }]
      : text;
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: this.#systemPrompt },
      ...this.#history.slice(-this.#llm.historyTurns).flatMap((e): ChatCompletionMessageParam[] => [
        { role: 'user', content: e.user },
        { role: 'assistant', content: e.answer },
      ]),
      { role: 'user', content: question },
    ];
    const functions = tools?.definitions.map(toOpenAiTool);
    let answer = '';
    let calls = 0;
    try {
      for (;;) {
        const stream = await this.#client.chat.completions.create(
          {
            model: this.#backend.model,
            messages,
            stream: true,
            max_tokens: this.#llm.maxAnswerTokens,
            temperature: this.#llm.temperature,
            ...(functions?.length ? { tools: functions } : {}),
          },
          { signal },
        );
        const called = new Map<number, { id: string; name: string; args: string }>();
        let finish: string | null = null;
        for await (const chunk of stream) {
          // Pieces already received when the turn was stopped are not said.
          signal.throwIfAborted();
          const choice = chunk.choices[0];
          if (!choice) continue;
          announce();
          const piece = choice.delta.content;
          if (piece) {
            answer += piece;
            yield piece;
          }
          for (const call of choice.delta.tool_calls ?? []) {
            const so = called.get(call.index) ?? { id: '', name: '', args: '' };
            called.set(call.index, { id: call.id ?? so.id, name: so.name + (call.function?.name ?? ''), args: so.args + (call.function?.arguments ?? '') });
          }
          finish = choice.finish_reason ?? finish;
        }
        if (finish === null) throw new ModelServerError(this.#role.stage, `${this.#role.stage}-remote-cut`, `${this.#role.noun} at ${this.#backend.baseUrl} stopped in the middle of the answer`, 'Check that the server is still running; JARVIS tries it again with the next question.');
        if (called.size === 0 || !tools) break;
        // A request started early acts only once it is confirmed (core/pipeline/speculation.ts).
        await request.confirmed;
        signal.throwIfAborted();
        const asked: ChatCompletionMessageFunctionToolCall[] = [...called.values()].map((c, i) => ({ id: c.id || `call-${calls}-${i}`, type: 'function', function: { name: c.name, arguments: c.args || '{}' } }));
        messages.push({ role: 'assistant', content: answer || null, tool_calls: asked });
        for (const call of asked) {
          calls++;
          let result: unknown;
          try {
            const outcome = await tools.call(call.function.name, JSON.parse(call.function.arguments) as unknown, { signal, ...(request.run ? { run: request.run } : {}) });
            if (outcome.said) {
              answer += `${outcome.said} `;
              yield `${outcome.said} `;
            }
            result = outcome.result;
          } catch (error) {
            signal.throwIfAborted();
            result = { error: error instanceof Error ? error.message : String(error) };
          }
          messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result ?? null) });
        }
        if (calls >= tools.maxCallsPerTurn) break;
      }
      // A finished answer with nothing in it (a broken chat template, a full context) would be a silent turn.
      if (!answer.trim() && calls === 0) {
        throw new ModelServerError(this.#role.stage, `${this.#role.stage}-remote-empty`, `${this.#role.noun} at ${this.#backend.baseUrl} gave an empty answer`, "Ask again; if it keeps happening, check the model on the server (its chat template, its context size) in the server's log.");
      }
    } catch (error) {
      if (signal.aborted) {
        this.#remember(text, answer);
        throw abortError(signal.reason);
      }
      // Anything else (the connection dropped under the stream) cut the answer short.
      const explained = this.#explain(error);
      if (explained !== error || error instanceof JarvisError) throw explained;
      throw new ModelServerError(this.#role.stage, `${this.#role.stage}-remote-cut`, `${this.#role.noun} at ${this.#backend.baseUrl} stopped in the middle of the answer (${firstLine(String((error as Error)?.message ?? error))})`, 'Check that the server is still running; JARVIS tries it again with the next question.', { cause: error });
    }
    this.#remember(text, answer);
  }

  /** How the HUD and the log name it: the model and where it runs. */
  get name(): string {
    return this.#name ?? `${this.#backend.model} at ${serverHost(this.#backend.baseUrl)}`;
  }

  async resetConversation(): Promise<void> {
    this.#history = [];
  }

  async answerCutOff(heard: string): Promise<void> {
    const last = this.#history.at(-1);
    if (last) last.answer = cutOffAnswer(heard);
  }

  async retract(): Promise<void> {
    this.#history.pop();
  }

  async dispose(): Promise<void> {
    this.#history = [];
  }

  #remember(user: string, answer: string): void {
    this.#history.push({ user, answer });
    if (this.#history.length > this.#llm.historyTurns) this.#history.splice(0, this.#history.length - this.#llm.historyTurns);
  }

  #missingModel(ids: readonly string[]): JarvisError {
    return new ModelServerError(
      this.#role.stage,
      `${this.#role.stage}-remote-model`,
      `${this.#role.noun} at ${this.#backend.baseUrl} has no model "${this.#backend.model}"${ids.length ? ` (it has ${ids.slice(0, 5).join(', ')})` : ''}`,
      `Set ${this.#role.settings}.model to one the server has, or load "${this.#backend.model}" on the server.`,
    );
  }

  /** A short sentence for the user and the fix, from whatever the client threw. */
  #explain(error: unknown): unknown {
    const role = { ...this.#role, keyEnv: this.#backend.keyEnv ?? this.#role.keyEnv };
    return explainServerError(error, this.#backend, role, () => this.#missingModel([]));
  }
}

function toOpenAiTool(definition: ToolDefinition): ChatCompletionTool {
  return {
    type: 'function',
    function: {
      name: definition.name,
      description: definition.description,
      parameters: (definition.params as Record<string, unknown> | undefined) ?? { type: 'object', properties: {} },
    },
  };
}

/** The responder for `llm.backend: "openai"`: the key from the config, else from the variable apiKeyEnv names (OPENAI_API_KEY). */
export function openAiResponder(llm: JarvisConfig['llm'], env: NodeJS.ProcessEnv = process.env): OpenAiResponder {
  const { baseUrl, model, apiKey, apiKeyEnv, timeoutMs, maxRetries } = llm.openai;
  return new OpenAiResponder(llm, { baseUrl, model, apiKey: apiKeyFrom(apiKey, apiKeyEnv, env), keyEnv: apiKeyEnv, timeoutMs, maxRetries });
}
