/**
 * The run events of one turn as they travel to the screens (after Home Assistant's assist pipeline): every stage
 * reports one with a monotonic timestamp. core/events.ts records and publishes them; the HUD and the benchmarks
 * read them.
 */

/**
 * remote: push-to-talk on the phone remote (no wake word; the phone decides where the request ends).
 * alert: no request at all: a timer or alarm ringing (core/skills), played like an answer and stopped like one.
 * satellite: a Wyoming satellite in another room (core/satellite) heard it; the answer plays there.
 */
export type TurnTrigger = 'wake' | 'follow-up' | 'text' | 'file' | 'remote' | 'alert' | 'satellite';

/** The satellite a request came from: its name, and its room as Home Assistant names it (satellites[].area). */
export interface SatelliteRoom {
  name: string;
  area?: string;
}
export type BargeInCause = 'wake' | 'stop-phrase' | 'command';
export type RunOutcome = 'answered' | 'interrupted' | 'no-speech' | 'empty-transcript' | 'false-wake' | 'error' | 'shutdown';

export type RunEventBody =
  | { type: 'run-start'; trigger: TurnTrigger; satellite?: SatelliteRoom }
  | { type: 'wake'; keyword: string; score: number; engine: string }
  | { type: 'vad-start' }
  | {
      type: 'vad-end';
      reason: 'silence' | 'max-length' | 'source-ended' | 'released';
      speechMs: number;
      /** What the request said about its own end (core/pipeline/turn-end.ts): the silence that ended it, and why. */
      turnEnd?: { reason: TurnEndReason; silenceMs: number };
    }
  | { type: 'no-speech'; waitedMs: number }
  | { type: 'stt-start'; audioMs: number }
  /** The request so far, transcribed in a pause or while it is still being spoken. */
  | { type: 'stt-partial'; text: string; audioMs: number }
  /** `live`: the transcript taken in the request's last pause was its transcript (no speech to text after its end). */
  | { type: 'stt-end'; text: string; ms: number; live?: boolean }
  | { type: 'wake-rejected'; heard: string }
  | { type: 'intent-start'; skill: string; args: Record<string, unknown>; via: IntentSource }
  | { type: 'intent-end'; skill: string; ok: boolean; ms: number; said: string; code?: string }
  /**
   * `earlyMs`: the answer was started this long before the request's end was confirmed (core/pipeline/speculation.ts).
   * `image`: a photo came with the question (its type and size; the bytes go to the screens apart, never in events).
   */
  | { type: 'llm-start'; text: string; earlyMs?: number; image?: { type: string; bytes: number } }
  /** An answer started in a pause was thrown away: the person spoke on (`text`: what it was started on). */
  | { type: 'speculation-discarded'; text: string }
  /**
   * Who answers when it is not the local model: `backend` names it; `fallbackFrom` and `why` when the configured
   * server could not answer and another one did. `role`: the model of a role other than chat answered
   * (llm.roles: "write a script…" goes to the code model); absent for the chat model. `chosenBy`: who picked the
   * role when a code role is configured: the rule on the words, the user ("ask the coder …"), or the chat model's
   * routing call (llm.roles.route "rule-then-model"); `routeMs`: how long that call took, when it was made.
   */
  | { type: 'llm-backend'; backend: string; fallbackFrom?: string; why?: string; role?: Exclude<LlmRole, 'chat'>; chosenBy?: RoleChooser; routeMs?: number }
  /**
   * Passages of the household's documents found for the question (core/knowledge), which the answer is drawn from;
   * none: the documents do not say (and the answer says so). `embedMs` + `searchMs`: the retrieval's cost.
   */
  | { type: 'knowledge'; query: string; passages: KnowledgePassage[]; embedMs: number; searchMs: number; keywordsOnly: boolean }
  | { type: 'first-token'; ms: number }
  | { type: 'sentence'; index: number; text: string }
  | { type: 'llm-end'; text: string; ms: number; pieces: number; aborted: boolean }
  | { type: 'tts-start'; index: number; text: string }
  | { type: 'tts-end'; index: number; ms: number; audioMs: number; engine: string }
  | { type: 'playback-start'; index: number }
  | { type: 'playback-end'; interrupted: boolean }
  | { type: 'barge-in'; cause: BargeInCause; detail?: string }
  | { type: 'error'; stage: Stage; code: string; message: string; fix?: string }
  | { type: 'run-end'; outcome: RunOutcome; ms: number };

/** One passage of a document, as the HUD and the phone show it. */
export interface KnowledgePassage {
  /** The document's id in the index: what the screens ask to open it by (`open-document`). */
  document: number;
  /** The file's name (no folders); `title`: the document's own title, or the name in words. */
  file: string;
  title: string;
  page?: number;
  heading?: string;
  snippet: string;
}

/**
 * Why a request ended when it did: complete (a complete question or command), intent (a local skill recognises it),
 * trailing (it trailed off: "for", "and", "um"), unsure (nothing said either way: the configured hangover).
 */
export type TurnEndReason = 'complete' | 'intent' | 'trailing' | 'unsure';

/** The kinds of request that may have models of their own (llm.roles); chat is the default one. */
export type LlmRole = 'chat' | 'code' | 'vision';

/** Who picked a request's role: the rule on its words, the user ("ask the coder …"), or the chat model when asked. */
export type RoleChooser = 'rule' | 'user' | 'model';

/** Who asked for a skill: the local intent matcher, the LLM (a function call) or a timer that rang. */
export type IntentSource = 'local' | 'llm' | 'timer';

export type Stage = 'audio' | 'wake' | 'vad' | 'stt' | 'llm' | 'tts' | 'playback' | 'pipeline';

export type RunEvent = RunEventBody & {
  runId: number;
  /** Monotonic milliseconds on the daemon's clock (performance.now() of its process; audio time in a replayed test). */
  t: number;
  /** Milliseconds since this run's run-start. */
  sinceStart: number;
};

export type RunEventType = RunEvent['type'];
