import type { RunEvent, RunEventType } from './run-events.ts';

/**
 * Per-stage latency of one turn, computed from its run events only (the CLI, the HUD and the benchmarks all
 * read these numbers, so they agree). All values in ms; undefined when the turn did not reach that stage.
 */
export interface TurnTimings {
  /** End of speech detected (VAD) → first audio out: what the user feels. */
  voiceToVoice?: number;
  stt?: number;
  /** LLM request → first token. */
  firstToken?: number;
  /** LLM request → first complete sentence. */
  firstSentence?: number;
  /** Synthesis time of the first sentence. */
  firstTts?: number;
  /** Whole turn, from its run-start. */
  total?: number;
  /**
   * For a request answered by a local skill (no LLM): transcript (stt-end, or run-start for a typed question) →
   * the answer's first sentence (or the skill's end, for a silent one such as "stop").
   */
  localAnswer?: number;
  /** The chat model's routing call (llm.roles.route "rule-then-model"), part of firstToken. */
  route?: number;
}

export function turnTimings(events: readonly RunEvent[]): TurnTimings {
  const first = <T extends RunEventType>(type: T) => events.find((e) => e.type === type) as Extract<RunEvent, { type: T }> | undefined;
  const vadEnd = first('vad-end');
  const llmStart = first('llm-start');
  const sentence = first('sentence');
  const playback = first('playback-start');
  const timings: TurnTimings = {};
  if (vadEnd && playback) timings.voiceToVoice = playback.t - vadEnd.t;
  const stt = first('stt-end');
  if (stt) timings.stt = stt.ms;
  const token = first('first-token');
  if (token) timings.firstToken = token.ms;
  if (llmStart && sentence) timings.firstSentence = sentence.t - llmStart.t;
  const tts = first('tts-end');
  if (tts) timings.firstTts = tts.ms;
  const routed = events.find((e) => e.type === 'llm-backend' && e.routeMs !== undefined);
  if (routed?.type === 'llm-backend' && routed.routeMs !== undefined) timings.route = routed.routeMs;
  const end = first('run-end');
  if (end) timings.total = end.ms;
  const local = events.find((e) => e.type === 'intent-start' && e.via === 'local');
  if (local) {
    const transcript = stt ?? first('run-start');
    const answered = sentence ?? events.find((e) => e.type === 'intent-end' && e.t >= local.t);
    if (transcript && answered) timings.localAnswer = answered.t - transcript.t;
  }
  return timings;
}
