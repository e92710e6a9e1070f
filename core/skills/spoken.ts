/**
 * Times and dates in JARVIS's answers, written as people read them ("7:05 PM"); the voice gets its own form
 * from toSpokenText ("7 oh 5 PM", since espeak-ng reads "7:05" as "seven zero five").
 */

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** "7 AM", "7:05 PM", "7:30 PM", "noon", "midnight" (local time). */
export function spokenClock(epochMs: number): string {
  const date = new Date(epochMs);
  const hour = date.getHours();
  const minute = date.getMinutes();
  if (minute === 0 && hour === 12) return 'noon';
  if (minute === 0 && hour === 0) return 'midnight';
  const h12 = hour % 12 === 0 ? 12 : hour % 12;
  const suffix = hour < 12 ? 'AM' : 'PM';
  if (minute === 0) return `${h12} ${suffix}`;
  return `${h12}:${String(minute).padStart(2, '0')} ${suffix}`;
}

export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

/** "Tuesday the 25th of November, 2025" */
export function spokenDate(epochMs: number, withYear = true): string {
  const date = new Date(epochMs);
  const text = `${WEEKDAYS[date.getDay()]} the ${ordinal(date.getDate())} of ${MONTHS[date.getMonth()]}`;
  return withYear ? `${text}, ${date.getFullYear()}` : text;
}

function startOfDay(epochMs: number): number {
  const date = new Date(epochMs);
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** Whole local days from `now` to `epochMs` (0 today, 1 tomorrow). */
export function daysFromToday(epochMs: number, now: number): number {
  return Math.round((startOfDay(epochMs) - startOfDay(now)) / 86_400_000);
}

/** "7 AM", "7 AM tomorrow", "7 AM on Friday", "7 AM on Friday the 5th of December" */
export function spokenMoment(epochMs: number, now: number): string {
  const days = daysFromToday(epochMs, now);
  const clock = spokenClock(epochMs);
  if (days === 0) return clock;
  if (days === 1) return `${clock} tomorrow`;
  if (days > 1 && days < 7) return `${clock} on ${WEEKDAYS[new Date(epochMs).getDay()]}`;
  return `${clock} on ${spokenDate(epochMs, false)}`;
}

/** A list as said aloud: "a, b and c". */
export function spokenList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}
