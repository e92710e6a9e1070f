/**
 * What the screens are told of the assistant's state: its phase and the problems a user must fix. core/state.ts
 * computes it; the HUD draws it.
 */

export type Phase = 'booting' | 'idle' | 'listening' | 'thinking' | 'speaking' | 'degraded';

export interface Problem {
  /** Stable id, one per kind of problem, e.g. "microphone" or "llm-model". */
  readonly id: string;
  readonly message: string;
  readonly fix: string;
  /** A blocking problem stops the voice loop (no microphone); others only limit it (no Piper voice). */
  readonly blocking: boolean;
}

export interface AssistantState {
  readonly phase: Phase;
  readonly problems: readonly Problem[];
}
