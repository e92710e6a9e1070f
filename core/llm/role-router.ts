import { performance } from 'node:perf_hooks';
import { describeError, isAbortError, JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { apiKeyFrom, serverHost, type ServerRole } from '../../base/openai-server.ts';
import type { JarvisConfig, RoleModelConfig } from '../../config/schema.ts';
import type { RunRecorder } from '../events.ts';
import type { LlmRole, RoleChooser, RunEventBody } from '../protocol/run-events.ts';
import type { Responder, ResponderInfo, ResponseRequest } from '../responder.ts';
import { LlamaResponder } from './llama-responder.ts';
import { OpenAiResponder } from './openai-responder.ts';

/**
 * Roles (llm.roles): the request goes to the model that fits it. A local rule decides, before any model is asked
 * (`pickRole`, a pure function, table-tested): "write a bash script that…", "write a function / a regex / code
 * that…", "how do I … in Python" go to the code model; everything else to the chat model (a photo never
 * reaches this far: VisionRouter, in front of the whole chain, gives it to the vision model). "Ask the coder …" (or "ask the code model …") forces the code model and is not part of the question it
 * gets. A role that is not configured is answered by the chat model, as is a request whose model cannot answer at
 * all (its server down, its file missing): the turn says so (an `llm-backend` run event with `fallbackFrom` and
 * `why`), as with llm.fallback.
 *
 * The router stands where the LLM stands in the answer chain: the skills, Home Assistant, the documents and the
 * MCP tools stay in front of it, and it passes the request (with its tools) to one model. Each model keeps its
 * own conversation; a cut-off or withdrawn answer goes to the one that gave it. The HUD shows which role
 * answered: every `llm-backend` event of a turn answered by a role other than chat carries `role`, and `chosenBy`.
 *
 * With llm.roles.route "rule-then-model", a request the rule gives to chat (and nobody forced with "ask the …") is
 * first put to the chat model as a short side question, "code or chat?" (Responder.classify: a few tokens under a
 * grammar where the backend has one, outside its conversation), and the code model answers when it says code. The
 * call has llm.roles.routeTimeoutMs; slow, failing, unclear or missing (a responder without classify), the rule's
 * choice stands and the turn goes on. It is off by default: a model round trip before every chat answer.
 */

/** The roles this router chooses between (vision is chosen in front of the chain, by the photo). */
export type RoutedRole = Exclude<LlmRole, 'vision'>;

export interface RoleChoice {
  readonly role: RoutedRole;
  /** The question for that role's model: the request without "ask the coder". */
  readonly text: string;
  /** Said by the user ("ask the coder …"), not inferred. */
  readonly forced: boolean;
}

// "Jarvis, ask the coder to write …": the wake name, then the role, then the question.
const ADDRESS = String.raw`^(?:(?:hey|ok|okay)\s+)?(?:jarvis[\s,.:;!-]+)?(?:(?:please|can you|could you|would you)\s+)?`;
const FORCED: readonly { role: RoutedRole; pattern: RegExp }[] = [
  {
    role: 'code',
    pattern: new RegExp(`${ADDRESS}ask\\s+(?:the\\s+|my\\s+|your\\s+)?(?:coder|coding\\s+(?:model|assistant)|code\\s+(?:model|assistant))\\b[\\s,.:;!?-]*(?:(?:to|whether|if)\\s+)?`, 'i'),
  },
  { role: 'chat', pattern: new RegExp(`${ADDRESS}ask\\s+(?:the\\s+|my\\s+|your\\s+)?(?:chat\\s+model|chat\\s+assistant)\\b[\\s,.:;!?-]*(?:(?:to|whether|if)\\s+)?`, 'i') },
];

const LANGUAGES =
  'python|bash|shell|zsh|powershell|javascript|typescript|node(?:\\.?js)?|js|ts|rust|golang|java|kotlin|swift|c\\+\\+|c#|ruby|php|perl|lua|haskell|scala|sql|sqlite|postgres(?:ql)?|mysql|regex|awk|sed|jq|git|docker|kubernetes|css|html|yaml|json|makefile|cmake|nix';
const ADJECTIVES = `small|simple|quick|short|little|tiny|basic|new|recursive|async|generic|reusable|pure|one-line|${LANGUAGES}|cron|unit|integration`;
const CODE_THINGS =
  'script|function|regex|regexp|regular expression|program|snippet|code|class|method|query|one-?liner|command|makefile|dockerfile|unit tests?|test suite|cron ?job|algorithm|parser|endpoint|module|alias|loop|lambda|struct|interface|enum';
/** What may follow the thing asked for: its purpose, its name, or nothing ("write a function that…", "…a regex."). */
const AFTER_THING = String.raw`(?=\s*(?:$|[,.:;!?]|that\b|which\b|to\b|for\b|in\b|using\b|with\b|called\b|named\b|from\b|who\b|where\b|so\b|taking\b|returning\b|reading\b|checking\b|matching\b|parsing\b))`;

const CODE_RULES: readonly RegExp[] = [
  // "write a bash script that…", "write me a quick python function to…", "create a regex for…", "write some code that…"
  new RegExp(
    String.raw`\b(?:write|create|make|generate|give\s+me|show\s+me|draft|implement|code\s+up|put\s+together)\s+(?:(?:me|us)\s+)?(?:(?:a|an|the|some|one|another|two|three)\s+)?(?:(?:${ADJECTIVES})\s+){0,3}(?:${CODE_THINGS})${AFTER_THING}`,
    'i',
  ),
  // "how do I reverse a list in Python", "how can I do that with bash"
  new RegExp(String.raw`\bhow\s+(?:do|can|could|would|should|to)\s+(?:i\s+|you\s+|we\s+|one\s+)?.*\b(?:in|with|using|from)\s+(?:${LANGUAGES})\b`, 'i'),
  // "what's the git command to undo a commit", "the bash command for…"
  new RegExp(String.raw`\b(?:${LANGUAGES}|linux|unix|terminal|npm|pip|cargo)\s+(?:command|one-?liner|syntax|function|script|code|error|exception|stack\s*trace|snippet|equivalent)\b`, 'i'),
  // "a regex matching…", "a regular expression for…"
  /\b(?:regex|regexp|regular expression)\b/i,
  // "fix my code", "refactor this function", "debug my script", "explain this stack trace"
  /\b(?:fix|debug|refactor|optimi[sz]e|review|explain|comment)\s+(?:my|this|the|that|our)\s+(?:\w+\s+)?(?:code|script|function|program|query|regex|class|method|stack\s*trace|segfault|compile\s+error|syntax\s+error)\b/i,
  /\b(?:stack\s*trace|segfault|segmentation fault|syntax error|compile(?:r)? error|null pointer|off-by-one)\b/i,
];

/** A script for people, not computers: "write a script for my play / the wedding video". */
const STAGE_SCRIPT = /\bscript\b.*\b(?:play|film|movie|screenplay|video|podcast|scene|speech|wedding|presentation|actors?|youtube|sketch|comic)\b/i;
const NAMES_A_LANGUAGE = new RegExp(String.raw`\b(?:${LANGUAGES})\b`, 'i');

/** The context a stage in front puts before the question ("[From the household's documents: …]\n"). */
function splitContext(text: string): { context: string; question: string } {
  if (!text.startsWith('[')) return { context: '', question: text };
  const end = text.lastIndexOf(']\n');
  return end < 0 ? { context: '', question: text } : { context: text.slice(0, end + 2), question: text.slice(end + 2) };
}

/** Which role answers `text`. Pure: the same request always goes to the same role. */
export function pickRole(text: string): RoleChoice {
  const { context, question } = splitContext(text);
  for (const { role, pattern } of FORCED) {
    const match = pattern.exec(question);
    if (!match) continue;
    const rest = question.slice(match[0].length).trim();
    // "Ask the coder." alone: the whole request goes to it as it was said.
    return { role, text: rest ? context + rest : text, forced: true };
  }
  if (CODE_RULES.some((rule) => rule.test(question)) && !(STAGE_SCRIPT.test(question) && !NAMES_A_LANGUAGE.test(question))) {
    return { role: 'code', text, forced: false };
  }
  return { role: 'chat', text, forced: false };
}

/** What the chat model is asked when it routes a request (the words without any documents' passages in front). */
export function routingPrompt(text: string): string {
  const { question } = splitContext(text);
  return (
    'Decide which assistant should answer the request below. Answer "code" if it asks for programming help: writing, ' +
    'fixing, explaining or running code, scripts, shell commands, queries or regular expressions. Answer "chat" for ' +
    `anything else. Answer with one word: code or chat.\n\nRequest: ${question}`
  );
}

/** The routing call's answers, the role each picks first. */
export const ROUTE_CHOICES = ['code', 'chat'] as const;

export interface RoleRouterOptions {
  /** llm.roles.route: "rule-then-model" asks the chat model where the rule says chat. Default "rule". */
  readonly route?: 'rule' | 'rule-then-model';
  /** llm.roles.routeTimeoutMs (default 1500). */
  readonly routeTimeoutMs?: number;
  /** Where a failed routing call is told: the first at warn, the others at debug. */
  readonly log?: Logger;
}

/** The models behind the roles; only chat is required. */
export interface RoleResponders {
  readonly chat: Responder;
  readonly code?: Responder | undefined;
}

const ROLE_NOUN: Record<LlmRole, string> = { chat: 'the chat model', code: 'the code model', vision: 'the vision model' };

/** How the HUD names a responder: its own name (a server: "qwen at gpu-box:8000"), else the role's. */
function nameOf(responder: Responder, role: LlmRole): string {
  const name = (responder as Partial<{ name: string }>).name;
  return typeof name === 'string' && name ? name : ROLE_NOUN[role];
}

/**
 * `responder`'s answer, with the turn told who gave it: every `llm-backend` event the responder reports gets
 * `extra`, and one that reports none (a model of ours, which does not name itself) is named `name` before its
 * first piece. Nothing is said of a model that fails before it answers.
 */
async function* announced(responder: Responder, request: ResponseRequest, name: string, extra: Partial<Extract<RunEventBody, { type: 'llm-backend' }>>): AsyncIterable<string> {
  if (!request.run) {
    yield* responder.respond(request);
    return;
  }
  const tagged = taggedRun(request.run, extra);
  let first = true;
  for await (const piece of responder.respond({ ...request, run: tagged.run })) {
    if (first && !tagged.seen()) tagged.run.emit({ type: 'llm-backend', backend: name });
    first = false;
    yield piece;
  }
}

/** `run` with `extra` added to every `llm-backend` event reported through it; `seen()`: whether one was. */
function taggedRun(run: RunRecorder, extra: Partial<Extract<RunEventBody, { type: 'llm-backend' }>>): { run: RunRecorder; seen: () => boolean } {
  let seen = false;
  const emit = (body: RunEventBody, t?: number) => {
    if (body.type !== 'llm-backend') return run.emit(body, t);
    seen = true;
    return run.emit({ ...body, ...extra }, t);
  };
  // Everything else is the recorder's own (its private fields need it as `this`).
  const tagged = new Proxy(run, {
    get(target, key) {
      if (key === 'emit') return emit;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { run: tagged, seen: () => seen };
}

export class RoleRouter implements Responder {
  readonly engine: string;
  readonly #roles: RoleResponders;
  readonly #options: RoleRouterOptions;
  /** The model that gave the last answer: a cut-off or withdrawn request belongs to its conversation. */
  #answeredBy: Responder | undefined;
  /** A routing call failed before: the next failures are logged at debug. */
  #routeFailed = false;

  constructor(roles: RoleResponders, options: RoleRouterOptions = {}) {
    this.#roles = roles;
    this.#options = options;
    this.engine = roles.chat.engine;
  }

  /** The roles that have a model of their own besides chat. */
  get roles(): RoutedRole[] {
    return (['code'] as const).filter((role) => this.#roles[role] !== undefined);
  }

  /** The chat model's process (the GPU panel labels its memory); a role's worker is reported by the model pool. */
  get workerPid(): number | undefined {
    return this.#roles.chat.workerPid;
  }

  /** Loads the chat model; the others load when first asked. */
  async load(): Promise<ResponderInfo> {
    const info = await this.#roles.chat.load();
    const others = this.roles.map((role) => `${role}: ${nameOf(this.#roles[role]!, role)}`);
    return others.length ? { ...info, summary: `${info.summary}; ${others.join(', ')} (loaded when first asked)` } : info;
  }

  understands(text: string): boolean {
    return this.#roles.chat.understands?.(text) ?? false;
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    let choice = pickRole(request.text);
    let chosenBy: RoleChooser = choice.forced ? 'user' : 'rule';
    let routeMs: number | undefined;
    const chat = this.#roles.chat;
    if (this.#options.route === 'rule-then-model' && !choice.forced && choice.role === 'chat' && this.#roles.code && chat.classify) {
      const started = performance.now();
      const role = await this.#askChatModel(chat, request);
      routeMs = Math.round(performance.now() - started);
      // Stopped while asking (a barge-in, a withdrawn request): nothing to answer.
      if (request.signal.aborted) return;
      if (role) {
        chosenBy = 'model';
        choice = { ...choice, role };
      }
    }
    const how = { chosenBy, ...(routeMs !== undefined ? { routeMs } : {}) };
    const model = choice.role === 'chat' ? undefined : this.#roles[choice.role];
    if (!model) {
      // Chat, or a role nobody configured: the chat model answers (what "ask the chat model" asked is the question).
      this.#answeredBy = chat;
      const asked = choice.text === request.text ? request : { ...request, text: choice.text };
      // Who chose it is said on the chat model's own `llm-backend` events (a server's); a local model reports none.
      yield* this.#roles.code && request.run ? chat.respond({ ...asked, run: taggedRun(request.run, how).run }) : chat.respond(asked);
      return;
    }
    const name = nameOf(model, choice.role);
    let answered = false;
    try {
      for await (const piece of announced(model, { ...request, text: choice.text }, name, { role: choice.role as Exclude<LlmRole, 'chat'>, ...how })) {
        answered = true;
        yield piece;
      }
      this.#answeredBy = model;
      return;
    } catch (error) {
      // An answer begun is not finished by another model; a stopped turn is stopped; a bug is not hidden.
      if (answered || request.signal.aborted || isAbortError(error) || !(error instanceof JarvisError)) throw error;
      // The role's model cannot answer (its server down, its file missing): the chat model does, and says why.
      const chat = this.#roles.chat;
      this.#answeredBy = chat;
      yield* announced(chat, { ...request, text: choice.text }, nameOf(chat, 'chat'), { fallbackFrom: name, why: error.message });
    }
  }

  /**
   * The chat model's routing call: the role it names, or undefined when it cannot say in time (slow, failing,
   * unclear, stopped): then the rule's choice stands. Never throws; a failure is logged (once at warn).
   */
  async #askChatModel(chat: Responder, request: ResponseRequest): Promise<RoutedRole | undefined> {
    const timeoutMs = this.#options.routeTimeoutMs ?? 1500;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new JarvisError('llm-route-timeout', `the chat model's routing call took longer than ${timeoutMs} ms`, 'Raise llm.roles.routeTimeoutMs, or set llm.roles.route to "rule".')), timeoutMs);
    try {
      const said = await chat.classify!(routingPrompt(request.text), ROUTE_CHOICES, AbortSignal.any([request.signal, timeout.signal]));
      return ROUTE_CHOICES.find((role) => role === said);
    } catch (error) {
      if (request.signal.aborted) return undefined;
      const reason = timeout.signal.aborted ? timeout.signal.reason : error;
      const log = this.#options.log;
      const fields = { err: describeError(reason).message };
      const message = "the chat model's routing call failed; the rule's choice (chat) stands";
      if (this.#routeFailed) log?.debug(fields, message);
      else log?.warn(fields, `${message} (later failures are logged at debug)`);
      this.#routeFailed = true;
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  async resetConversation(): Promise<void> {
    await Promise.all(this.#all().map((responder) => responder.resetConversation()));
  }

  async answerCutOff(heard: string): Promise<void> {
    await this.#answeredBy?.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    await this.#answeredBy?.retract();
  }

  /** Disposes the role models; the chat model is its owner's (the model manager's, or the daemon's). */
  async dispose(): Promise<void> {
    await Promise.allSettled(this.roles.map((role) => this.#roles[role]!.dispose()));
  }

  #all(): Responder[] {
    return [this.#roles.chat, ...this.roles.map((role) => this.#roles[role]!)];
  }
}

/** The code role's server (backend "openai"): its errors name it and its settings, its answers its instructions. */
export function codeServerResponder(llm: JarvisConfig['llm'], role: RoleModelConfig, env: NodeJS.ProcessEnv = process.env): OpenAiResponder {
  const { baseUrl, model, apiKey, apiKeyEnv, timeoutMs, maxRetries } = role.openai;
  const server: ServerRole = { stage: 'llm', noun: 'the code model server', settings: 'llm.roles.code.openai', keyEnv: apiKeyEnv };
  const systemPrompt = role.systemPrompt ?? CODE_SYSTEM_PROMPT;
  return new OpenAiResponder(
    { ...llm, systemPrompt },
    { baseUrl, model, apiKey: apiKeyFrom(apiKey, apiKeyEnv, env), keyEnv: apiKeyEnv, timeoutMs, maxRetries },
    { role: server, systemPrompt, name: `${model} at ${serverHost(baseUrl)}` },
  );
}

/**
 * The code model's instructions when llm.roles.code.systemPrompt is not set: the answer is spoken and shown, so
 * the code is short and said plainly, with no markdown fences read aloud.
 */
export const CODE_SYSTEM_PROMPT =
  'You are Jarvis, a voice assistant, answering a programming question. Your answer is spoken aloud and shown on a ' +
  'screen. Give the shortest code that does the job, then one or two plain sentences on how to use it. Do not use ' +
  'markdown headings or lists.';

/** `jarvis doctor`'s check of the code role: its server asked for a first token, or its GGUF loaded, as for chat. */
export async function checkCodeRole(llm: JarvisConfig['llm'], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const role = llm.roles.code;
  if (!role) return 'not configured: the chat model answers code requests';
  if (role.backend === 'openai') {
    const server = codeServerResponder(llm, role, env);
    try {
      const { summary } = await server.load();
      return `${summary}; first token in ${Math.round(await server.firstTokenMs())} ms`;
    } finally {
      await server.dispose();
    }
  }
  const local = new LlamaResponder({ ...llm, model: role.model!, systemPrompt: role.systemPrompt ?? CODE_SYSTEM_PROMPT }, llm.threads ? { threads: llm.threads } : {});
  try {
    return `${(await local.load()).summary} (loaded by its first question, beside the chat model)`;
  } finally {
    await local.dispose();
  }
}
