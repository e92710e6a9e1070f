/**
 * Durations in plain words (see normalize.ts: lower case, numbers as digits): "5 minutes", "an hour and a
 * half", "1 and a half hours", "half an hour", "a quarter of an hour", "3 quarters of an hour", "90 seconds",
 * "1 hour 20 minutes", "5 minutes 30". Whisper sometimes writes "four" as "for" and "two" as "to"; a number
 * slot filled by such a word right after "for"/"to" counts as the number ("set a timer for for minutes").
 */

export interface Span {
  /** Index of the first word. */
  readonly start: number;
  /** Index after the last word. */
  readonly end: number;
}

export interface DurationSpan extends Span {
  readonly ms: number;
}

const UNIT_MS: Record<string, number> = {
  second: 1000,
  seconds: 1000,
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  h: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

const SMALLER_UNIT_MS: Record<number, number> = { 3_600_000: 60_000, 60_000: 1000 };

const HOMOPHONES: Record<string, number> = { for: 4, four: 4, fore: 4, to: 2, too: 2, two: 2, won: 1, ate: 8 };

const unitMs = (word: string | undefined) => (word === undefined ? undefined : UNIT_MS[word]);

function numberAt(words: readonly string[], i: number): number | undefined {
  const word = words[i];
  if (word === undefined) return undefined;
  if (/^\d+(?:\.\d+)?$/.test(word)) return Number(word);
  if (word === 'a' || word === 'an') return 1;
  if (word in HOMOPHONES && (words[i - 1] === 'for' || words[i - 1] === 'to') && unitMs(words[i + 1]) !== undefined) return HOMOPHONES[word];
  return undefined;
}

/** One "<number> <unit>"-like part at `i`: [ms, words used]. */
function partAt(words: readonly string[], i: number): [number, number] | undefined {
  const w = (k: number) => words[i + k];
  // half an hour, half a minute, half hour
  if (w(0) === 'half') {
    const article = w(1) === 'an' || w(1) === 'a' ? 1 : 0;
    const unit = unitMs(w(1 + article));
    if (unit) return [unit / 2, 2 + article];
  }
  // (a) quarter (of) (an) hour
  const q = w(0) === 'a' && w(1) === 'quarter' ? 1 : w(0) === 'quarter' ? 0 : -1;
  if (q >= 0) {
    let k = q + 1;
    if (w(k) === 'of') k++;
    if (w(k) === 'an' || w(k) === 'a') k++;
    const unit = unitMs(w(k));
    if (unit) return [unit / 4, k + 1];
  }
  // a couple (of) minutes
  if (w(0) === 'a' && w(1) === 'couple') {
    const k = w(2) === 'of' ? 3 : 2;
    const unit = unitMs(w(k));
    if (unit) return [unit * 2, k + 1];
  }
  const n = numberAt(words, i);
  if (n === undefined) return undefined;
  // 3 quarters of an hour
  if (w(1) === 'quarters' && w(2) === 'of') {
    const k = w(3) === 'an' || w(3) === 'a' ? 4 : 3;
    const unit = unitMs(w(k));
    if (unit) return [(n * unit) / 4, k + 1];
  }
  // 1 and a half hours
  if (w(1) === 'and' && (w(2) === 'a' || w(2) === '1') && w(3) === 'half') {
    const unit = unitMs(w(4));
    if (unit) return [(n + 0.5) * unit, 5];
  }
  const unit = unitMs(w(1));
  if (!unit) return undefined;
  // an hour and a half
  if (w(2) === 'and' && w(3) === 'a' && w(4) === 'half') return [(n + 0.5) * unit, 5];
  return [n * unit, 2];
}

/** The duration starting exactly at `start`, as long as it goes. */
export function durationAt(words: readonly string[], start: number): DurationSpan | undefined {
  const first = partAt(words, start);
  if (!first) return undefined;
  let ms = first[0];
  let end = start + first[1];
  let lastUnit = unitMs(words[end - 1]) ?? 0;
  for (;;) {
    const joiner = words[end] === 'and' ? 1 : 0;
    const next = partAt(words, end + joiner);
    if (next) {
      ms += next[0];
      end += joiner + next[1];
      lastUnit = unitMs(words[end - 1]) ?? 0;
      continue;
    }
    // "5 minutes 30": a bare number after a unit is in the next smaller unit.
    const bare = words[end + joiner];
    const smaller = SMALLER_UNIT_MS[lastUnit];
    if (smaller && bare !== undefined && /^\d{1,2}$/.test(bare) && Number(bare) < 60 && unitMs(words[end + joiner + 1]) === undefined) {
      ms += Number(bare) * smaller;
      end += joiner + 1;
    }
    break;
  }
  return ms > 0 ? { start, end, ms: Math.round(ms) } : undefined;
}

/** The first (leftmost, then longest) duration in `words`. */
export function findDuration(words: readonly string[]): DurationSpan | undefined {
  for (let i = 0; i < words.length; i++) {
    const span = durationAt(words, i);
    if (span) return span;
  }
  return undefined;
}

/** "1 hour and 30 minutes", "90 seconds" → "1 minute and 30 seconds", "2 and a half minutes" → "2 minutes and 30 seconds". */
export function spokenDuration(ms: number): string {
  let seconds = Math.round(ms / 1000);
  if (seconds <= 0) return 'less than a second';
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  const parts = [
    [days, 'day'],
    [hours, 'hour'],
    [minutes, 'minute'],
    [seconds, 'second'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, unit]) => `${n} ${unit}${n === 1 ? '' : 's'}`);
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/** Remaining time as people say it: whole seconds under two minutes, else rounded to the minute. */
export function spokenRemaining(ms: number): string {
  if (ms < 120_000) return spokenDuration(Math.max(1000, Math.ceil(ms / 1000) * 1000));
  return spokenDuration(Math.round(ms / 60_000) * 60_000);
}
