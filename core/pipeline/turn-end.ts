import type { TurnEndReason } from '../protocol/run-events.ts';
import { words } from './transcript.ts';

/**
 * How much silence ends a spoken request, from what has been said so far (a partial transcript, taken in the
 * pause): a request that is complete ends after a short silence, one that trails off mid-phrase waits longer, and
 * anything else waits the configured hangover. A fixed hangover is wrong both ways: it makes "what time is it"
 * wait 700 ms, and it cuts "set a timer for … twelve minutes" when the pause is longer. Pure: table-tested.
 */

export interface TurnEndPolicy {
  /** Silence after a complete request (a local skill recognises it, or a complete question or command). */
  readonly completeMs: number;
  /** Silence when nothing says whether it is complete: vad.hangoverMs. */
  readonly unsureMs: number;
  /** Silence after words that announce more ("for", "and", "the", "um", a number without its unit). */
  readonly trailingMs: number;
}

export interface TurnEnd {
  readonly silenceMs: number;
  readonly reason: TurnEndReason;
}

/** Words that cannot end a request: more must follow. */
const TRAILING_WORDS = new Set([
  'and', 'or', 'but', 'so', 'because', 'if', 'then', 'than', 'that', 'which', 'who', 'when', 'while', 'unless',
  'to', 'for', 'from', 'of', 'in', 'on', 'at', 'by', 'with', 'without', 'about', 'into', 'onto', 'like', 'until',
  'the', 'a', 'an', 'my', 'your', 'our', 'his', 'her', 'their', 'its', 'this', 'these', 'those', 'some', 'any',
  'is', 'are', 'was', 'were', 'be', 'am', 'will', 'would', 'can', 'could', 'should', 'please', 'also', 'plus',
  'um', 'uh', 'er', 'erm', 'hmm', 'mm', 'ah', 'eh', 'well', 'actually', 'maybe',
  'set', 'remind', 'call', 'turn', 'put', 'make', 'tell', 'what', 'whats', "what's", 'how', 'where', 'why',
]);

/** Quantities that ask for their unit when they end a request ("a timer for twelve"). */
const NUMBER = /^(?:\d+(?:[.,]\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|half|a couple)$/;
const UNIT_WANTED_AFTER = new Set(['for', 'in', 'about', 'another', 'next', 'last', 'of', 'to']);

/** How a complete question or command starts. */
const REQUEST_START = /^(?:what|whats|what's|when|where|who|whom|whose|why|how|which|is|are|am|was|were|do|does|did|can|could|will|would|should|shall|may|have|has|tell|give|show|set|start|stop|cancel|turn|switch|play|pause|resume|remind|wake|call|add|remove|open|close|find|read|say|repeat|use|make|put|let|please|hey|ok|okay)$/;

/** A hedge, a disfluency, an audible "…": the speaker is not done. */
const TRAILS_OFF = /(?:\.\.\.|…|-|—|,)\s*$/;

export function turnEnd(transcript: string, options: { readonly intentMatched: boolean }, policy: TurnEndPolicy): TurnEnd {
  const text = transcript.trim();
  const said = words(text);
  if (said.length === 0) return { silenceMs: policy.unsureMs, reason: 'unsure' };
  const last = said.at(-1)!;
  const beforeLast = said.at(-2);
  if (TRAILS_OFF.test(text) || TRAILING_WORDS.has(last)) return { silenceMs: policy.trailingMs, reason: 'trailing' };
  if (NUMBER.test(last) && beforeLast !== undefined && UNIT_WANTED_AFTER.has(beforeLast)) return { silenceMs: policy.trailingMs, reason: 'trailing' };
  if (options.intentMatched) return { silenceMs: policy.completeMs, reason: 'intent' };
  const ended = /[.?!]["')\]]*$/.test(text);
  if (ended && said.length >= 3 && REQUEST_START.test(said[0]!)) return { silenceMs: policy.completeMs, reason: 'complete' };
  return { silenceMs: policy.unsureMs, reason: 'unsure' };
}
