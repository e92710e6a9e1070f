import type { ImageType } from '../base/image-type.ts';
import type { RunRecorder } from './events.ts';

/**
 * A photo sent with a request (the phone remote's "look"): held in memory for its turn only. `type` is what its
 * bytes are (checked by their magic number, never taken from the sender).
 */
export interface ImageInput {
  readonly type: ImageType;
  readonly data: Uint8Array;
}

/** The stage that turns a transcript into an answer: local intents, then the LLM. */
export interface ResponseRequest {
  readonly text: string;
  readonly signal: AbortSignal;
  /** The turn's run-event log, for responders that report their own steps (intent-start/intent-end). */
  readonly run?: RunRecorder;
  /** Functions the model may call while answering (LLM function calling); they run in this process. */
  readonly tools?: ToolHost;
  /**
   * The room the request was heard in (a satellite's area, as Home Assistant names it): "turn on the lights" means
   * the lights there. Absent: the room of JARVIS's own microphone (home.area).
   */
  readonly area?: string;
  /**
   * A request started before its speaker has finished (core/pipeline/speculation.ts): it resolves when the request
   * is confirmed as it is. Until then a responder may think but must not act (run a skill, call a function); if
   * the request is withdrawn, `signal` aborts instead. Absent: confirmed.
   */
  readonly confirmed?: Promise<void>;
  /** A photo the question is about ("what is this?"): the vision role answers it (core/llm/vision.ts). */
  readonly image?: ImageInput;
}

export interface ToolCallContext {
  /** The turn the call belongs to, for its run events. */
  readonly run?: RunRecorder;
  readonly signal: AbortSignal;
}

export interface ToolOutcome {
  /** What the model gets back as the function's result. */
  readonly result: unknown;
  /** Said to the user at once ("Timer set for 5 minutes."), so an answer that used a tool says what it did. */
  readonly said?: string;
}

/**
 * A function the model may call (node-llama-cpp function calling). The worker only describes it to the model; the
 * call itself runs in the daemon, which owns the timers, notes and devices: the worker sends `tool-call` and
 * waits for `tool-result`. Tools come with each question, so the same worker serves plain chat and tool use.
 */
export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  /** A JSON schema in node-llama-cpp's GBNF subset: the call's arguments are generated under this grammar. None: no arguments. */
  readonly params?: Readonly<Record<string, unknown>>;
}

/** What the model may call, and running a call. */
export interface ToolHost {
  readonly definitions: readonly ToolDefinition[];
  /** Calls allowed in one answer; a repeated identical call also ends it. */
  readonly maxCallsPerTurn: number;
  call(name: string, params: unknown, context: ToolCallContext): Promise<ToolOutcome>;
}

export interface ResponderInfo {
  /** One line for the start-up log, e.g. "CUDA, 33/33 layers on GPU, 5.1 GB VRAM". */
  readonly summary: string;
  /** Loaded, but not as configured (the GPU backend crashed, so the CPU answers): for the HUD's problem list. */
  readonly warning?: { readonly message: string; readonly fix: string };
}

export interface Responder {
  readonly engine: string;
  /** The process the model runs in, when it is not this one (the GPU panel labels its memory). */
  readonly workerPid?: number | undefined;
  load(): Promise<ResponderInfo>;
  /**
   * True when `text` is a complete request this responder answers without asking anything more (a local skill
   * recognises it): the request may end after a short silence. Responders without local answers leave it out.
   */
  understands?(text: string): boolean;
  /**
   * A short side question outside the conversation (the role router's routing call: "code" or "chat"?): which of
   * `choices` the model picks for `prompt`, constrained to them where the backend allows (a grammar), a few tokens
   * at most. Nothing of it enters the conversation. Rejects when the model cannot say (an error, an answer naming
   * none of them) and when `signal` aborts. Responders that cannot make such a call leave it out.
   */
  classify?(prompt: string, choices: readonly string[], signal: AbortSignal): Promise<string>;
  /** Streams the answer in pieces as it is generated; stops early when `signal` aborts. */
  respond(request: ResponseRequest): AsyncIterable<string>;
  /** Forgets the conversation so far (the system prompt stays). */
  resetConversation(): Promise<void>;
  /**
   * The last answer was cut off (barge-in, stop) after `heard`, the part the user heard: the conversation keeps
   * only that, marked as interrupted, so the model does not believe it said what nobody heard.
   */
  answerCutOff(heard: string): Promise<void>;
  /** The last request was withdrawn before it was confirmed (its speaker went on): the conversation forgets it. */
  retract(): Promise<void>;
  dispose(): Promise<void>;
}
