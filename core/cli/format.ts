import type { RunEvent } from '../protocol/run-events.ts';
import type { TurnTimings } from '../protocol/timings.ts';

/** Human-readable lines for run events and timings (the --json flag prints the events themselves instead). */

const ms = (value: number) => `${Math.round(value)} ms`;
const quote = (text: string, max = 90) => JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** In place of what was said, when the words are not to be printed: how many there were. */
const wordCount = (text: string) => {
  const words = text.trim() ? text.trim().split(/\s+/).length : 0;
  return `(${words} word${words === 1 ? '' : 's'})`;
};

/**
 * `words: false` leaves out what was said and answered (a daemon's output goes to the journal, which keeps it for
 * weeks: the conversation itself is kept only in the model's history, llm.historyTurns).
 */
export function formatEvent(event: RunEvent, options: { words?: boolean } = {}): string {
  const at = `#${event.runId} +${String(Math.round(event.sinceStart)).padStart(5)} ms`;
  return `${at}  ${describe(event, options.words === false ? wordCount : quote)}`;
}

function describe(event: RunEvent, quote: (text: string) => string): string {
  switch (event.type) {
    case 'run-start':
      return event.satellite ? `run start (satellite ${event.satellite.name}${event.satellite.area ? ` in the ${event.satellite.area}` : ''})` : `run start (${event.trigger})`;
    case 'wake':
      return `wake word "${event.keyword}" (score ${event.score.toFixed(2)}, ${event.engine})`;
    case 'vad-start':
      return 'speech started';
    case 'vad-end':
      return `speech ended (${event.reason}${event.turnEnd ? ` after ${ms(event.turnEnd.silenceMs)}: ${event.turnEnd.reason}` : ''}, ${ms(event.speechMs)} of speech)`;
    case 'no-speech':
      return `nobody spoke for ${ms(event.waitedMs)}`;
    case 'stt-start':
      return `transcribing ${ms(event.audioMs)} of audio`;
    case 'stt-partial':
      return `heard so far ${quote(event.text)}`;
    case 'stt-end':
      return `transcript ${quote(event.text)} (${ms(event.ms)}${event.live ? ', taken while speaking' : ''})`;
    case 'wake-rejected':
      return `wake word not in transcript ${quote(event.heard)}: ignored`;
    case 'intent-start':
      return `skill ${event.skill}${Object.keys(event.args).length && quote !== wordCount ? ` ${JSON.stringify(event.args)}` : ''} (${event.via === 'local' ? 'local intent' : event.via === 'llm' ? 'called by the LLM' : 'timer'})`;
    case 'intent-end':
      return `skill ${event.skill} ${event.ok ? 'done' : `failed (${event.code ?? 'error'})`} in ${ms(event.ms)}${event.said ? `: ${quote(event.said)}` : ''}`;
    case 'llm-start':
      return event.earlyMs === undefined ? 'thinking' : `thinking (started ${ms(event.earlyMs)} before the request ended)`;
    case 'speculation-discarded':
      return `an answer started on ${quote(event.text)} was dropped: the request went on`;
    case 'llm-backend':
      return event.fallbackFrom
        ? `answered by ${event.backend}: ${event.fallbackFrom} could not (${event.why ?? 'no reason given'})`
        : `answered by ${event.backend}${event.role ? ` (the ${event.role} model)` : ''}${event.chosenBy === 'model' ? `, as the chat model chose${event.routeMs !== undefined ? ` in ${ms(event.routeMs)}` : ''}` : ''}`;
    case 'knowledge':
      return event.passages.length
        ? `documents: ${event.passages.map((p) => `${p.file}${p.page ? ` p. ${p.page}` : ''}${p.heading ? ` "${p.heading}"` : ''}`).join(', ')} (${ms(event.embedMs + event.searchMs)})`
        : `documents: nothing relevant (${ms(event.embedMs + event.searchMs)})`;
    case 'first-token':
      return `first token (${ms(event.ms)})`;
    case 'sentence':
      return `sentence ${event.index + 1}: ${quote(event.text)}`;
    case 'llm-end':
      return `answer done (${event.pieces} pieces, ${ms(event.ms)}${event.aborted ? ', stopped' : ''})`;
    case 'tts-start':
      return `synthesizing sentence ${event.index + 1}`;
    case 'tts-end':
      return `synthesized sentence ${event.index + 1} (${ms(event.audioMs)} of audio in ${ms(event.ms)}, ${event.engine})`;
    case 'playback-start':
      return `playing sentence ${event.index + 1}`;
    case 'playback-end':
      return event.interrupted ? 'playback cut off' : 'playback finished';
    case 'barge-in':
      return `interrupted by ${event.cause}${event.detail ? ` (${quote(event.detail)})` : ''}`;
    case 'error':
      return `ERROR in ${event.stage}: ${event.message}${event.fix ? `\n      fix: ${event.fix}` : ''}`;
    case 'run-end':
      return `run end: ${event.outcome} (${ms(event.ms)})`;
  }
}

export function formatTimings(timings: TurnTimings): string {
  const rows: [string, number | undefined][] = [
    ['speech end → first audio', timings.voiceToVoice],
    ['speech to text', timings.stt],
    ['local answer (no LLM)', timings.localAnswer],
    ['LLM first token', timings.firstToken],
    ['LLM first sentence', timings.firstSentence],
    ['TTS first sentence', timings.firstTts],
    ['whole turn', timings.total],
  ];
  return rows
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `  ${name.padEnd(26)} ${String(Math.round(value!)).padStart(6)} ms`)
    .join('\n');
}
