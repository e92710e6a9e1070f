/** The stage that turns a transcript into an answer: local intents, then the LLM. */
export interface ResponseRequest {
  readonly text: string;
  readonly signal: AbortSignal;
}

export interface ResponderInfo {
  /** One line for the start-up log, e.g. "CUDA, 33/33 layers on GPU, 5.1 GB VRAM". */
  readonly summary: string;
}

export interface Responder {
  readonly engine: string;
  load(): Promise<ResponderInfo>;
  /** Streams the answer in pieces as it is generated; stops early when `signal` aborts. */
  respond(request: ResponseRequest): AsyncIterable<string>;
  /** Forgets the conversation so far (the system prompt stays). */
  resetConversation(): Promise<void>;
  dispose(): Promise<void>;
}
