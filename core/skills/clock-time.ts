import type { Span } from './durations.ts';

/**
 * Clock times and days in plain words (see normalize.ts): "7 am", "7:30", "7.30 pm", "7 30", "7 oh 5",
 * "7 oclock", "half past 6", "half 6" (British: 6:30), "quarter to 8", "20 past 4", "noon", "midnight",
 * "19:30"; qualified by "in the morning", "at night", "tonight"; days: "today", "tomorrow (morning)", "on
 * monday", "next friday". A bare hour ("at 7") counts as a time only where `bareHours` allows it (after "at"
 * or "for" in an alarm), so "for 7" in other requests is not taken for a time.
 */

export type Meridiem = 'am' | 'pm';

export interface ClockSpan extends Span {
  readonly hour: number;
  readonly minute: number;
  /** Given, or implied by a 24-hour time ("19:30", "0 7") or "noon"/"midnight"; undefined when ambiguous. */
  readonly meridiem?: Meridiem;
  /** A 24-hour reading: hour is already 0–23. */
  readonly twentyFour: boolean;
}

export type DaySpec = { readonly kind: 'offset'; readonly days: number } | { readonly kind: 'weekday'; readonly weekday: number; readonly next: boolean };

export interface DaySpan extends Span {
  readonly day: DaySpec;
  /** "tomorrow morning", "tonight", "this evening" say which half of the day. */
  readonly meridiem?: Meridiem;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const PART_OF_DAY: Record<string, Meridiem> = { morning: 'am', afternoon: 'pm', evening: 'pm', night: 'pm', tonight: 'pm' };

function meridiemAfter(words: readonly string[], i: number): [Meridiem, number] | undefined {
  const w = words[i];
  if (w === 'am' || w === 'pm') return [w, 1];
  if (w === 'in' && words[i + 1] === 'the' && (words[i + 2] === 'morning' || words[i + 2] === 'afternoon' || words[i + 2] === 'evening')) {
    return [PART_OF_DAY[words[i + 2]!]!, 3];
  }
  if (w === 'at' && words[i + 1] === 'night') return ['pm', 2];
  if (w === 'tonight') return ['pm', 1];
  return undefined;
}

const isHour = (n: number) => Number.isInteger(n) && n >= 0 && n <= 24;
const isMinute = (n: number) => Number.isInteger(n) && n >= 0 && n < 60;
const num = (w: string | undefined) => (w !== undefined && /^\d{1,2}$/.test(w) ? Number(w) : undefined);

/** The time whose first word is at `i` (without the meridiem). */
function timeCoreAt(words: readonly string[], i: number, bareHours: boolean): { hour: number; minute: number; used: number; twentyFour: boolean; fixed?: Meridiem } | undefined {
  const w = words[i];
  if (w === undefined) return undefined;
  if (w === 'noon' || w === 'midday') return { hour: 12, minute: 0, used: 1, twentyFour: false, fixed: 'pm' };
  if (w === 'midnight') return { hour: 0, minute: 0, used: 1, twentyFour: true };
  // 12 noon
  if (w === '12' && (words[i + 1] === 'noon' || words[i + 1] === 'midday')) return { hour: 12, minute: 0, used: 2, twentyFour: false, fixed: 'pm' };
  // 7:30, 7.30, 19:30
  const colon = /^(\d{1,2})[:.](\d{2})$/.exec(w);
  if (colon) {
    const hour = Number(colon[1]);
    const minute = Number(colon[2]);
    if (!isHour(hour) || !isMinute(minute)) return undefined;
    return { hour: hour % 24, minute, used: 1, twentyFour: hour > 12 || colon[1]!.startsWith('0') };
  }
  // 0730, 1930
  const military = /^([01]\d|2[0-3])([0-5]\d)$/.exec(w);
  if (military) return { hour: Number(military[1]), minute: Number(military[2]), used: 1, twentyFour: true };
  // half past 6, quarter past 7, quarter to 8, 20 past 4, 10 to 9, half 6
  const relative = relativeTimeAt(words, i);
  if (relative) return relative;
  const hour = num(w);
  if (hour === undefined || !isHour(hour)) return undefined;
  // 7 oh 5
  if (words[i + 1] === 'oh' && num(words[i + 2]) !== undefined && num(words[i + 2])! < 10) {
    return { hour: hour % 24, minute: num(words[i + 2])!, used: 3, twentyFour: hour > 12 };
  }
  // 7 30, 6 45 (two-digit minutes only: "7 5" is not a time)
  const minutes = words[i + 1];
  if (minutes !== undefined && /^\d{2}$/.test(minutes) && isMinute(Number(minutes))) {
    return { hour: hour % 24, minute: Number(minutes), used: 2, twentyFour: hour > 12 };
  }
  if (words[i + 1] === 'oclock') return { hour: hour % 24, minute: 0, used: 2, twentyFour: hour > 12 };
  if (meridiemAfter(words, i + 1) || bareHours) return { hour: hour % 24, minute: 0, used: 1, twentyFour: hour > 12 };
  return undefined;
}

function relativeTimeAt(words: readonly string[], i: number): { hour: number; minute: number; used: number; twentyFour: boolean } | undefined {
  let k = i;
  if (words[k] === 'a' && words[k + 1] === 'quarter') k++;
  const w = words[k];
  let minute: number | undefined;
  if (w === 'half') minute = 30;
  else if (w === 'quarter') minute = 15;
  else if (num(w) !== undefined && num(w)! > 0 && num(w)! < 60) minute = num(w);
  if (minute === undefined) return undefined;
  k++;
  if (words[k] === 'minutes' || words[k] === 'minute') k++;
  const direction = words[k];
  // British "half 6" means 6:30.
  if (w === 'half' && num(direction) !== undefined && isHour(num(direction)!) && num(direction)! <= 12) {
    return { hour: num(direction)!, minute: 30, used: k - i + 1, twentyFour: false };
  }
  if (direction !== 'past' && direction !== 'to' && direction !== 'after' && direction !== 'before') return undefined;
  if (w === 'half' && direction !== 'past' && direction !== 'after') return undefined;
  const hour = num(words[k + 1]) ?? (words[k + 1] === 'midnight' ? 0 : words[k + 1] === 'noon' ? 12 : undefined);
  if (hour === undefined || !isHour(hour)) return undefined;
  const before = direction === 'to' || direction === 'before';
  return {
    hour: before ? (hour + 23) % 24 : hour % 24,
    minute: before ? 60 - minute : minute,
    used: k - i + 2,
    twentyFour: hour > 12,
  };
}

/** The clock time that starts at `i`, with its meridiem if one follows. */
export function clockTimeAt(words: readonly string[], i: number, options: { bareHours?: boolean } = {}): ClockSpan | undefined {
  const core = timeCoreAt(words, i, options.bareHours ?? false);
  if (!core) return undefined;
  let end = i + core.used;
  let meridiem = core.fixed;
  const after = meridiemAfter(words, end);
  if (after && !core.twentyFour) {
    meridiem = after[0];
    end += after[1];
  }
  if (core.hour > 12 && meridiem === 'am') return undefined;
  return { start: i, end, hour: core.hour, minute: core.minute, twentyFour: core.twentyFour, ...(meridiem ? { meridiem } : {}) };
}

/**
 * The first clock time in `words` outside `skip`. Bare hours count only right after "at", "for", "by" or "until".
 */
export function findClockTime(words: readonly string[], skip?: Span): ClockSpan | undefined {
  for (let i = 0; i < words.length; i++) {
    if (skip && i >= skip.start && i < skip.end) continue;
    const previous = words[i - 1];
    const span = clockTimeAt(words, i, { bareHours: previous === 'at' || previous === 'for' || previous === 'by' || previous === 'until' });
    if (span && !(skip && span.start < skip.end && span.end > skip.start)) return span;
  }
  return undefined;
}

/** The first day expression: today, tonight, tomorrow (morning), this evening, (on|next|this) monday. */
export function findDay(words: readonly string[]): DaySpan | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const part = PART_OF_DAY[words[i + 1] ?? ''];
    if (w === 'today') return { start: i, end: i + 1, day: { kind: 'offset', days: 0 } };
    if (w === 'tonight') return { start: i, end: i + 1, day: { kind: 'offset', days: 0 }, meridiem: 'pm' };
    if (w === 'tomorrow') {
      return part && words[i + 1] !== 'tonight'
        ? { start: i, end: i + 2, day: { kind: 'offset', days: 1 }, meridiem: part }
        : { start: i, end: i + 1, day: { kind: 'offset', days: 1 } };
    }
    if (w === 'this' && part) return { start: i, end: i + 2, day: { kind: 'offset', days: 0 }, meridiem: part };
    const startsWith = w === 'on' || w === 'next' || w === 'this' ? 1 : 0;
    const weekday = WEEKDAYS.indexOf(words[i + startsWith] ?? '');
    if (weekday >= 0) {
      const after = PART_OF_DAY[words[i + startsWith + 1] ?? ''];
      return {
        start: i,
        end: i + startsWith + 1 + (after ? 1 : 0),
        day: { kind: 'weekday', weekday, next: w === 'next' },
        ...(after ? { meridiem: after } : {}),
      };
    }
  }
  return undefined;
}

/**
 * The moment (epoch ms) a spoken time refers to, after `now`, in local time. Without a day it is the next
 * time the clock shows that time; an hour without am/pm is whichever of the two comes first ("at 7" at 3 pm is
 * 7 pm) unless `preferMorning` (waking up) or a day is given, where 6–11 are mornings and 12–5 afternoons.
 */
export function resolveClockTime(
  time: { hour: number; minute: number; meridiem?: Meridiem; twentyFour?: boolean },
  now: number,
  options: { day?: DaySpec; dayMeridiem?: Meridiem; preferMorning?: boolean } = {},
): number {
  const meridiem = time.meridiem ?? (time.twentyFour ? undefined : options.dayMeridiem);
  const to24 = (hour: number, m: Meridiem) => (m === 'am' ? hour % 12 : (hour % 12) + 12);
  const candidates: number[] = [];
  if (time.twentyFour || time.hour > 12) candidates.push(time.hour);
  else if (meridiem) candidates.push(to24(time.hour, meridiem));
  else if (options.preferMorning) candidates.push(to24(time.hour, 'am'));
  else if (options.day) candidates.push(to24(time.hour, time.hour >= 6 && time.hour <= 11 ? 'am' : 'pm'));
  else candidates.push(to24(time.hour, 'am'), to24(time.hour, 'pm'));

  const base = new Date(now);
  const at = (dayOffset: number, hour: number) =>
    new Date(base.getFullYear(), base.getMonth(), base.getDate() + dayOffset, hour, time.minute, 0, 0).getTime();
  const day = options.day;
  if (day?.kind === 'offset') {
    const times = candidates.map((hour) => at(day.days, hour)).sort((a, b) => a - b);
    // "today at 7" said at 8: the evening if there is one, else it has passed and the caller says so.
    return times.find((t) => t > now) ?? times[0]!;
  }
  if (day?.kind === 'weekday') {
    let offset = (day.weekday - base.getDay() + 7) % 7;
    if (day.next && offset === 0) offset = 7;
    const times = candidates.map((hour) => at(offset, hour)).sort((a, b) => a - b);
    return times.find((t) => t > now) ?? Math.min(...candidates.map((hour) => at(offset + 7, hour)));
  }
  const times = [0, 1].flatMap((d) => candidates.map((hour) => at(d, hour))).sort((a, b) => a - b);
  return times.find((t) => t > now)!;
}
