import { isStopPhrase } from '../pipeline/transcript.ts';
import { clockTimeAt, findClockTime, findDay, resolveClockTime, type ClockSpan, type DaySpan, type DaySpec } from './clock-time.ts';
import { durationAt, findDuration, type DurationSpan, type Span } from './durations.ts';
import { keywords } from './household-memory.ts';
import { plainWords, prepareUtterance } from './normalize.ts';
import type { SkillCall, TimerKind, TimerTarget } from './skill-call.ts';

/**
 * The local intent matcher: everyday requests recognised by plain sentence patterns, in well under a
 * millisecond, so they are answered without the LLM. Patterns are anchored at both ends and allow only known
 * filler words around what they extract: "what time is it" is the time, "what time is it in Tokyo" is not (it
 * goes to the LLM, which has the time in its context). Anything not matched goes to the LLM.
 */

export interface MatchContext {
  /** Epoch ms; alarms at a clock time are resolved against it. */
  readonly now: number;
  /** Names of the timers that exist, so "cancel the pasta" and "how long left on the eggs" can be understood. */
  readonly timerLabels?: readonly string[];
  /** conversation.stopPhrases */
  readonly stopPhrases?: readonly string[];
}

export interface IntentMatch {
  readonly call: SkillCall;
  /** The request in the matcher's words (for logs and tests). */
  readonly plain: string;
}

export function matchIntent(text: string, context: MatchContext): IntentMatch | undefined {
  const { plain } = prepareUtterance(text);
  if (!plain) return undefined;
  for (const matcher of MATCHERS) {
    const call = matcher(plain, context, text);
    if (call) return { call, plain };
  }
  return undefined;
}

type Matcher = (plain: string, context: MatchContext, raw: string) => SkillCall | undefined;

// ---------------------------------------------------------------------------------------------------------
// stop / never mind

const STOP = new Set([
  'stop', 'stop it', 'stop that', 'stop talking', 'stop please', 'cancel', 'cancel that', 'cancel it', 'never mind',
  'forget it', 'forget about it', 'forget that', 'be quiet', 'quiet', 'shut up', 'silence', 'enough', 'that is enough',
  'that is all', 'that will be all', 'nothing', 'nothing else', 'no', 'no thanks', 'not now', 'go away', 'shush',
  'hush', 'dismiss', 'i was not talking to you', 'not you', 'sorry not you', 'ignore that', 'ignore me', 'abort',
  'leave it', 'i am done', 'done', 'ok stop', 'okay stop', 'stop stop',
]);

const matchStop: Matcher = (plain, context, raw) => {
  if (STOP.has(plain)) return { skill: 'stop' };
  if (context.stopPhrases && isStopPhrase(raw, context.stopPhrases)) return { skill: 'stop' };
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------
// time and date

const ASK = '(?:(?:tell me|do you know|can you tell me|could you tell me|would you tell me|say|give me) )?';

const TIME_PATTERNS = [
  new RegExp(`^${ASK}what(?: is)? the (?:current |exact )?time(?: is it| it is)?$`),
  new RegExp(`^${ASK}what time$`),
  new RegExp(`^${ASK}what time (?:is it|it is|have we got|do you have|do you make it|is it at the moment)$`),
  /^(?:tell me|give me|do you (?:have|know)|have you got|got|check) the (?:current |exact )?time$/,
  /^(?:the )?(?:current |exact )?time(?: check| please)?$/,
  /^what is the time at the moment$/,
];

const DATE_WORDS = '(?:date|day|day of the week|month|year)';
const DATE_PATTERNS: [RegExp, number | 'group'][] = [
  [new RegExp(`^${ASK}(?:what|which) ${DATE_WORDS}(?: is it| it is)?(?: (today|tomorrow|yesterday))?$`), 'group'],
  [new RegExp(`^${ASK}(?:what|which)(?: is)? (?:the |todays? )?${DATE_WORDS}(?: is it| it is| is)?(?: (today|tomorrow|yesterday))?$`), 'group'],
  [/^(?:what|which)(?: day)? is (today|tomorrow|yesterday)$/, 'group'],
  [/^(?:what is )?(today|tomorrow)s? date$/, 'group'],
  [/^(?:tell me )?(?:the |todays )?date(?: today)?$/, 0],
  [/^what is today$/, 0],
];

const matchTime: Matcher = (plain) => (TIME_PATTERNS.some((p) => p.test(plain)) ? { skill: 'time' } : undefined);

const matchDate: Matcher = (plain) => {
  for (const [pattern, offset] of DATE_PATTERNS) {
    const match = pattern.exec(plain);
    if (!match) continue;
    const word = offset === 'group' ? match[1] : undefined;
    return { skill: 'date', dayOffset: word === 'tomorrow' ? 1 : word === 'yesterday' ? -1 : 0 };
  }
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------
// timers, alarms and reminders: the duration, time and day are found first and replaced by placeholders, so one
// pattern covers "set a 10 minute pasta timer", "set a timer for 10 minutes for the pasta", "pasta timer 10 mins"

/** Words that are never part of a timer's name: a "name" with one of these is some other request. */
const NOT_A_NAME = new Set([
  'how', 'what', 'when', 'where', 'which', 'why', 'who', 'is', 'are', 'was', 'do', 'does', 'did', 'can', 'will',
  'cancel', 'stop', 'delete', 'remove', 'left', 'long', 'much', 'many', 'time', 'timer', 'timers', 'alarm', 'alarms',
  'set', 'start', 'list', 'not', 'no', 'you', 'i', 'me', 'it', 'that', 'this', 'there', 'if', 'about', 'in', 'at',
  'on', 'for', 'to', 'and', 'or', 'my', 'the', 'a', 'an', 'until', 'remaining', '<dur>', '<time>',
]);

interface Placeholders {
  skeleton: string;
  duration?: DurationSpan;
  time?: ClockSpan;
  day?: DaySpan;
  words: string[];
}

function withPlaceholders(plain: string, options: { times: boolean }): Placeholders {
  const words = plain.split(' ');
  const duration = findDuration(words);
  const day = options.times ? findDay(words) : undefined;
  const time = options.times ? findClockTime(words, duration) : undefined;
  const spans: [Span, string][] = [];
  if (duration) spans.push([duration, '<dur>']);
  if (time && !(day && overlaps(time, day))) spans.push([time, '<time>']);
  if (day) spans.push([day, '']);
  spans.sort((a, b) => b[0].start - a[0].start);
  const out = [...words];
  for (const [span, token] of spans) out.splice(span.start, span.end - span.start, ...(token ? [token] : []));
  return {
    skeleton: out.join(' ').replace(/\s+/g, ' ').trim(),
    words,
    ...(duration ? { duration } : {}),
    ...(time && !(day && overlaps(time, day)) ? { time } : {}),
    ...(day ? { day } : {}),
  };
}

const overlaps = (a: Span, b: Span) => a.start < b.end && b.start < a.end;

/** A timer name: up to four words, none of them a word that would make the request something else. */
function validName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const words = name.trim().split(' ').filter(Boolean);
  if (words.length === 0 || words.length > 4 || words.some((w) => NOT_A_NAME.has(w))) return undefined;
  return words.join(' ');
}

const SET_VERB = '(?:(?:please )?(?:set|start|put|make|create|add|begin|run|give me|i need|need|get|setup|set up)(?: me)?(?: up| on)? )?';
const ARTICLE = '(?:(?:a|an|the|my|another|one more)(?: new)? )?';
const NAMED = '(?: (?:for|called|named|labelled|labeled|titled) (?:the |my |a )?([a-z0-9 ]+?))?';

const TIMER_SET = new RegExp(
  `^${SET_VERB}${ARTICLE}(?:(<dur>) )?(?:([a-z0-9 ]+?) )?(?:timer|countdown)(?: going| on| up)?(?: (?:for|of|to|at|with|lasting|in))?(?: (<dur>))?${NAMED}$`,
);
// "set a time for 5 minutes": Whisper drops the r of timer.
const TIMER_SLIP = /^(?:set|start) (?:a |the )?time for <dur>$/;
const TIMER_NAMED_FIRST = new RegExp(`^${SET_VERB}${ARTICLE}(?:timer|countdown) (?:called|named|labelled|labeled|for) (?:the |my )?([a-z0-9 ]+?) (?:for|of|lasting) <dur>$`);
const REMIND_IN = /^(?:remind me|set a reminder|set reminder|reminder) (?:in|for) <dur>(?: from now)? (?:to|about|that) (.+)$/;
const REMIND_IN_AFTER = /^(?:remind me|set a reminder|set reminder) (?:to|about|that) (.+?) in <dur>(?: from now)?$/;

const matchTimerSet: Matcher = (plain) => {
  if (!/\b(?:timer|countdown|remind|reminder|time)\b/.test(plain)) return undefined;
  const { skeleton, duration } = withPlaceholders(plain, { times: false });
  const durationMs = duration?.ms;
  const reminder = REMIND_IN.exec(skeleton) ?? REMIND_IN_AFTER.exec(skeleton);
  if (reminder && durationMs !== undefined && !reminder[1]!.includes('<')) {
    return { skill: 'timer.set', kind: 'reminder', durationMs, label: reminderLabel(reminder[1]!) };
  }
  if (TIMER_SLIP.test(skeleton) && durationMs !== undefined) return { skill: 'timer.set', durationMs };
  const namedFirst = TIMER_NAMED_FIRST.exec(skeleton);
  const namedFirstLabel = validName(namedFirst?.[1]);
  if (namedFirstLabel && durationMs !== undefined) return { skill: 'timer.set', durationMs, label: namedFirstLabel };
  const match = TIMER_SET.exec(skeleton);
  if (!match) return undefined;
  const [, , nameBefore, , nameAfter] = match;
  const name = nameBefore ?? nameAfter;
  const label = validName(name);
  if (name !== undefined && label === undefined) return undefined;
  // "timer" alone is a question about timers, not a request for one.
  if (durationMs === undefined && !/^(?:set|start|put|make|create|add|begin|give me|i need|need|get|setup|set up)\b/.test(skeleton)) return undefined;
  return { skill: 'timer.set', ...(durationMs !== undefined ? { durationMs } : {}), ...(label ? { label } : {}) };
};

function reminderLabel(text: string): string {
  return text.replace(/^(?:to|about) /, '').trim();
}

const ALARM_SET = new RegExp(
  `^${SET_VERB}${ARTICLE}(?:(<time>) )?(?:([a-z0-9 ]+?) )?alarm(?: clock)?(?: (?:for|at|on|to))?(?: (<time>))?${NAMED}$`,
);
const ALARM_IN = /^(?:(?:set|start|make|create|put)(?: me)? )?(?:an? |the |my )?alarm (?:in|for) <dur>(?: from now)?$/;
const WAKE_AT = /^(?:please )?wake me(?: up)?(?: (?:at|by|for|around|about))?(?: (<time>))?$/;
const WAKE_IN = /^(?:please )?wake me(?: up)? in <dur>(?: from now)?$/;
const REMIND_AT = /^(?:remind me|set a reminder|set reminder|reminder) (?:at|by|for) <time> (?:to|about|that) (.+)$/;
const REMIND_AT_AFTER = /^(?:remind me|set a reminder|set reminder) (?:to|about|that) (.+?) (?:at|by) <time>$/;
const REMIND_DAY = /^(?:remind me|set a reminder|set reminder) (?:to|about|that) (.+)$/;

const matchAlarmSet: Matcher = (plain, context) => {
  if (!/\b(?:alarm|wake|remind|reminder)\b/.test(plain)) return undefined;
  const parsed = withPlaceholders(plain, { times: true });
  const { skeleton, duration, time, day } = parsed;
  const resolve = (preferMorning: boolean) =>
    time
      ? resolveClockTime(time, context.now, {
          ...(day ? { day: day.day } : {}),
          ...(day?.meridiem ? { dayMeridiem: day.meridiem } : {}),
          preferMorning,
        })
      : undefined;

  if ((ALARM_IN.test(skeleton) || WAKE_IN.test(skeleton)) && duration && !time) {
    return { skill: 'alarm.set', kind: 'alarm', dueAt: context.now + duration.ms };
  }
  const wake = WAKE_AT.exec(skeleton);
  if (wake && !duration) {
    const dueAt = resolve(true);
    return { skill: 'alarm.set', kind: 'alarm', ...(dueAt !== undefined ? { dueAt } : day ? { day: day.day } : {}) };
  }
  const reminder = REMIND_AT.exec(skeleton) ?? REMIND_AT_AFTER.exec(skeleton);
  if (reminder && time && !reminder[1]!.includes('<')) {
    return { skill: 'alarm.set', kind: 'reminder', dueAt: resolve(false)!, label: reminderLabel(reminder[1]!) };
  }
  // "remind me tomorrow to call mum": a day but no time.
  const dayOnly = REMIND_DAY.exec(skeleton);
  if (dayOnly && day && !time && !duration && !dayOnly[1]!.includes('<')) {
    return { skill: 'alarm.set', kind: 'reminder', day: day.day, label: reminderLabel(dayOnly[1]!) };
  }
  const alarm = ALARM_SET.exec(skeleton);
  if (!alarm || duration) return undefined;
  const [, , nameBefore, , nameAfter] = alarm;
  const name = nameBefore ?? nameAfter;
  const label = validName(name);
  if (name !== undefined && label === undefined) return undefined;
  if (!time && !/^(?:set|start|put|make|create|add|give me|i need|need|get|setup|set up)\b/.test(skeleton)) return undefined;
  const dueAt = resolve(false);
  return { skill: 'alarm.set', kind: 'alarm', ...(dueAt !== undefined ? { dueAt } : day ? { day: day.day } : {}), ...(label ? { label } : {}) };
};

// ---------------------------------------------------------------------------------------------------------
// listing, time left, cancelling, snoozing

const KIND = '(timers?|alarms?|reminders?|countdowns?)';

function kindOf(word: string | undefined): TimerKind | undefined {
  if (!word) return undefined;
  if (word.startsWith('alarm')) return 'alarm';
  if (word.startsWith('reminder')) return 'reminder';
  return 'timer';
}

const LIST_PATTERNS = [
  new RegExp(`^(?:list|show|tell me|read|read out|give me|check)(?: me)?(?: all)? (?:of )?(?:my |the |all |all my |all the )?(?:active |running |current |pending )?${KIND}(?: (?:i have|that are set|that are running|set|running))?$`),
  new RegExp(`^(?:what|which|how many) ${KIND}(?: do i have| have i got| are there| are set| are running| are on| are active| did i set| have i set| do we have| have we got)(?: set| running| on| going| active)?$`),
  new RegExp(`^(?:do i have|have i got|are there|is there|do we have|have we got) (?:any|a|an) ${KIND}(?: set| running| on| going| active)?$`),
  new RegExp(`^(?:any|my|all my|all) ${KIND}$`),
  new RegExp(`^${KIND}$`),
  new RegExp(`^what ${KIND} (?:is|are) (?:set|running|on)$`),
];

const matchTimerList: Matcher = (plain) => {
  for (const pattern of LIST_PATTERNS) {
    const match = pattern.exec(plain);
    if (match) {
      const kind = kindOf(match[1]);
      return { skill: 'timer.list', ...(kind === 'timer' ? {} : kind ? { kind } : {}) };
    }
  }
  return undefined;
};

/**
 * "the pasta timer", "my 7 am alarm", "the 5 minute timer", "the eggs": what a request names. A bare name
 * without "timer"/"alarm" must be the name of a timer that exists ("how long until christmas" is not a timer).
 */
function parseTarget(phrase: string | undefined, keyword: string | undefined, context: MatchContext): TimerTarget | undefined | null {
  const kind = kindOf(keyword);
  const words = (phrase ?? '').replace(/^(?:the|my|that|this|our) /, '').trim();
  if (!words) return kind ? { kind } : undefined;
  const list = words.split(' ');
  const duration = durationAt(list, 0);
  if (duration && duration.end === list.length) return { ...(kind ? { kind } : {}), durationMs: duration.ms };
  const clock = clockTimeAt(list, 0, { bareHours: true });
  if (clock && clock.end === list.length) {
    const hour = clock.meridiem === 'pm' && clock.hour < 12 ? clock.hour + 12 : clock.meridiem === 'am' && clock.hour === 12 ? 0 : clock.hour;
    return { kind: kind ?? 'alarm', clock: { hour, minute: clock.minute } };
  }
  const label = validName(words.replace(/ (?:one|1)$/, ''));
  if (!label) return null;
  const known = (context.timerLabels ?? []).some((l) => l.toLowerCase() === label);
  if (!kind && !known) return null;
  return { ...(kind ? { kind } : {}), label };
}

const REMAINING_PATTERNS: RegExp[] = [
  new RegExp(`^(?:how (?:long|much(?: longer| more)?(?: time)?|many minutes)|what(?: is)?(?: the)? time) (?:is |do i have |have i got |have we got |do we have |is there )?(?:left|remaining|to go)(?: (?:on|for|in|until) ([a-z0-9: ]+?))?(?: ${KIND})?$`),
  new RegExp(`^(?:how long|how much longer|how much time) (?:until|till|before|for) ([a-z0-9: ]+?)(?: ${KIND})?(?: (?:is done|is finished|goes off|rings|ends|finishes|are done|is ready|are ready))?$`),
  new RegExp(`^when (?:is|does|will) ([a-z0-9: ]+?)(?: ${KIND})(?: (?:go off|ring|end|finish|be done))?$`),
  new RegExp(`^(?:check|status of) ([a-z0-9: ]+?)(?: ${KIND})$`),
  new RegExp(`^how much longer(?: (?:on|for|until) ([a-z0-9: ]+?))?(?: ${KIND})?$`),
  new RegExp(`^(?:time left|time remaining|timer status|${KIND} status)$`),
];

const matchTimerRemaining: Matcher = (plain, context) => {
  for (const pattern of REMAINING_PATTERNS) {
    const match = pattern.exec(plain);
    if (!match) continue;
    let [, phrase, keyword] = match;
    // "when is my alarm": the phrase is the possessive only.
    if (phrase && /^(?:the|my|our|that|this)$/.test(phrase)) phrase = undefined;
    if (phrase && KIND_WORD.test(phrase) && !keyword) {
      keyword = phrase.split(' ').at(-1);
      phrase = phrase.split(' ').slice(0, -1).join(' ') || undefined;
    }
    const target = parseTarget(phrase, keyword, context);
    if (target === null) return undefined;
    return { skill: 'timer.remaining', ...(target ? { target } : {}) };
  }
  return undefined;
};

const KIND_WORD = /(?:^| )(?:timers?|alarms?|reminders?|countdowns?)$/;

const CANCEL_VERB = '(?:cancel|stop|delete|remove|clear|turn off|switch off|kill|end|dismiss|get rid of|scrap|abort|never mind|forget)';
const CANCEL_PATTERNS: RegExp[] = [
  new RegExp(`^${CANCEL_VERB} (all|every|all of|all the|all my|all of my|all of the|both|both of)? ?(?:the |my |that |this |those |these |our )?([a-z0-9: ]+? )?${KIND}$`),
  new RegExp(`^${CANCEL_VERB} (?:the |my |that |this |our )?${KIND} (?:for|called|named) (?:the |my )?([a-z0-9 ]+)$`),
  new RegExp(`^${CANCEL_VERB} (?:the |my |that |this |our )?([a-z0-9 ]+)$`),
];

const matchTimerCancel: Matcher = (plain, context) => {
  const [all, named, bare] = CANCEL_PATTERNS.map((p) => p.exec(plain));
  if (all) {
    const [, everything, phrase, keyword] = all;
    const target = parseTarget(phrase?.trim(), keyword, context);
    if (target === null) return undefined;
    const isAll = everything !== undefined || /s$/.test(keyword!) && !phrase;
    return { skill: 'timer.cancel', all: isAll, ...(target ? { target } : {}) };
  }
  if (named) {
    const [, keyword, name] = named;
    const label = validName(name);
    if (!label) return undefined;
    return { skill: 'timer.cancel', all: false, target: { ...(kindOf(keyword) ? { kind: kindOf(keyword)! } : {}), label } };
  }
  if (bare) {
    // "cancel the pasta": only the name of a timer that exists.
    const label = validName(bare[1]);
    if (label && (context.timerLabels ?? []).some((l) => l.toLowerCase() === label)) return { skill: 'timer.cancel', all: false, target: { label } };
  }
  return undefined;
};

const matchSnooze: Matcher = (plain) =>
  /^(?:snooze|snooze it|snooze (?:the |my )?(?:alarm|timer|reminder)|snooze for a bit|hit snooze|5 more minutes|let me sleep)$/.test(plain)
    ? { skill: 'timer.snooze' }
    : undefined;

// ---------------------------------------------------------------------------------------------------------
// volume and mute (JARVIS's own output level)

const VOLUME = '(?:the )?(?:volume|sound|audio|speaker volume|volume level)';
const VOLUME_UP = new RegExp(
  `^(?:(?:a (?:bit|little) |much |a lot )?louder|speak up|speak louder|turn it up|turn (?:it |yourself )?up(?: a bit| a little)?|turn up ${VOLUME}|turn ${VOLUME} up(?: a bit| a little)?|${VOLUME} up|(?:increase|raise|boost) ${VOLUME}|i can not hear you|too quiet|more volume|louder please)$`,
);
const VOLUME_DOWN = new RegExp(
  `^(?:(?:a (?:bit|little) |much |a lot )?(?:quieter|softer)|not so loud|too loud|speak (?:more )?(?:quietly|softer)|turn it down|turn (?:it |yourself )?down(?: a bit| a little)?|turn down ${VOLUME}|turn ${VOLUME} down(?: a bit| a little)?|${VOLUME} down|(?:decrease|lower|reduce) ${VOLUME}|less volume)$`,
);
const VOLUME_SET = new RegExp(
  `^(?:(?:set|change|put|turn|make|adjust)(?: the)? (?:volume|sound|audio)(?: level)? (?:to|at|on)?|(?:volume|sound)(?: level)?(?: to| at)?) ?(\\d+(?:\\.\\d+)?)(?: percent| out of 10| out of 100)?$`,
);
const VOLUME_MAX = new RegExp(`^(?:(?:max|maximum|full)(?: volume)?|volume (?:max|maximum|full)|turn (?:it|${VOLUME}) all the way up|(?:set|put) ${VOLUME} (?:to )?(?:max|maximum|full))$`);
const MUTE = /^(?:mute|mute yourself|mute your voice|mute (?:the )?(?:sound|volume|audio|speaker|speakers)|sound off|volume off|turn (?:the )?(?:sound|volume) off|turn off (?:the )?(?:sound|volume))$/;
const UNMUTE = /^(?:unmute|unmute yourself|unmute your voice|unmute (?:the )?(?:sound|volume|audio|speaker|speakers)|sound on|volume on|turn (?:the )?(?:sound|volume) (?:back )?on|turn (?:the )?(?:sound|volume) on again|turn on (?:the )?(?:sound|volume))$/;
const VOLUME_GET = new RegExp(`^(?:(?:what is|what) ${VOLUME}(?: set to| at)?|how loud are you(?: set)?|what volume are you (?:at|on|set to)|current volume)$`);
const MIC_MUTE = /^(?:mute (?:the |your )?(?:microphone|mic)|stop listening|turn (?:off )?(?:the |your )?(?:microphone|mic)(?: off)?|switch off (?:the |your )?(?:microphone|mic))$/;

const matchVolume: Matcher = (plain) => {
  if (MIC_MUTE.test(plain)) return { skill: 'microphone.mute' };
  if (MUTE.test(plain)) return { skill: 'volume.mute', muted: true };
  if (UNMUTE.test(plain)) return { skill: 'volume.mute', muted: false };
  if (VOLUME_MAX.test(plain)) return { skill: 'volume.set', level: 100 };
  const set = VOLUME_SET.exec(plain);
  if (set) {
    const n = Number(set[1]);
    // "volume 7" is out of 10; "volume 70" or "70 percent" is a percentage.
    const level = /percent|out of 100/.test(plain) || n > 10 ? n : n * 10;
    if (level > 100) return undefined;
    return { skill: 'volume.set', level: Math.round(level) };
  }
  const strong = /\b(?:much|a lot)\b/.test(plain) ? 2 : /\b(?:a bit|a little)\b/.test(plain) ? 0.5 : 1;
  if (VOLUME_UP.test(plain)) return { skill: 'volume.change', by: Math.round(20 * strong) };
  if (VOLUME_DOWN.test(plain)) return { skill: 'volume.change', by: -Math.round(20 * strong) };
  if (VOLUME_GET.test(plain)) return { skill: 'volume.get' };
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------
// GPU and models (from telemetry and the model status)

const CARD = '(?:the |my |your |our )?(?:gpu|graphics card|graphics processor|video card|graphics)';
const GPU_TEMPERATURE = [
  new RegExp(`^(?:how (?:hot|warm)|what temperature) is ${CARD}(?: running(?: at)?| right now| at the moment)?$`),
  new RegExp(`^(?:what is |whats |check |tell me )?(?:the )?(?:temperature|temp) of ${CARD}$`),
  new RegExp(`^(?:what is |check |tell me )?${CARD} (?:temperature|temp|temps|heat)$`),
  new RegExp(`^is ${CARD} (?:hot|too hot|overheating|running hot|warm)$`),
];
const GPU_MEMORY = [
  /^(?:how much )?(?:vram|video memory|graphics memory|gpu memory|graphics card memory)(?: is| are)?(?: (?:used|in use|free|left|available|usage|use))?$/,
  /^how much (?:vram|video memory|graphics memory|gpu memory|memory on the (?:gpu|graphics card)) (?:is |are |do we have |do you have |have we got )?(?:used|in use|free|left|available|being used|are you using)?$/,
  /^(?:what is |check |show )?(?:the )?(?:vram|gpu memory|video memory|graphics memory) (?:usage|use|used|free|status)$/,
  /^how much (?:vram|video memory|gpu memory|graphics memory) (?:are you|is the model|is the language model) using$/,
];
const MODEL_CURRENT = [
  /^(?:what|which)(?: language| ai)? model (?:is|are you) (?:loaded|running|in use|active|being used|using|running on|on)$/,
  /^(?:what|which)(?: language| ai)? model (?:are you|am i talking to|is this)(?: using| running| running on| on)?$/,
  /^(?:what is|which is) (?:your|the current|the active|the loaded)(?: language| ai)? model$/,
  /^(?:current|active|loaded)(?: language)? model$/,
  /^(?:what|which) (?:language model|llm|model) (?:do you use|are you)$/,
];
// The one place a spoken model switch is recognised; the model manager picks the model from the target words.
const MODEL_WORD = '(?:model|llm|brain)';
const MODEL_ARTICLE = '(?:the |a |an |your )?';
const MODEL_SWITCH = [
  new RegExp(`^(?:switch|change|swap|set)(?: over)?(?: the)?(?: language| ai)? ${MODEL_WORD}(?: over)? to ${MODEL_ARTICLE}([a-z0-9 .:]+?)(?: ${MODEL_WORD})?$`),
  new RegExp(`^(?:switch|change|swap|go)(?: over)? to ${MODEL_ARTICLE}([a-z0-9 .:]+?) (?:language )?${MODEL_WORD}$`),
  new RegExp(`^(?:use|load|run|try) ${MODEL_ARTICLE}([a-z0-9 .:]+?) (?:language )?${MODEL_WORD}(?: instead)?$`),
  /^(?:switch|change|swap)(?: the)?(?: language)? models?$/,
];

const matchMachine: Matcher = (plain) => {
  if (GPU_TEMPERATURE.some((p) => p.test(plain))) return { skill: 'gpu.temperature' };
  if (GPU_MEMORY.some((p) => p.test(plain))) return { skill: 'gpu.memory' };
  if (MODEL_CURRENT.some((p) => p.test(plain))) return { skill: 'model.current' };
  for (const pattern of MODEL_SWITCH) {
    const match = pattern.exec(plain);
    if (match) return { skill: 'model.switch', ...(match[1] ? { target: match[1] } : {}) };
  }
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------
// household notes: the fact is kept in the words it was said in, so it is read from the original text

const REMEMBER = /^(?:please )?(?:remember|remember that|note that|make a note that|take a note that|keep in mind that|do not forget that|don'?t forget that|memorize that|memorise that)[\s,:;-]+(.+)$/i;
const NOT_A_FACT = /^(?:when|what|where|who|how|why|me|us|this|that|it|the time|to\b)/i;
const RECALL_ABOUT = [
  /^(?:what do you (?:remember|know|recall) about|what did i tell you about|what have i told you about|do you remember anything about|what notes do you have (?:about|on)|tell me what you remember about|remind me what i told you about)\s+(.+)$/,
  /^do you remember (?:where|what|when|who|how) (.+)$/,
];
const RECALL_ALL = /^(?:what do you remember|what have i told you(?: to remember)?|what did i ask you to remember|list (?:your|the|my|all)(?: household)? notes|what notes do you have|read (?:me )?(?:your|my|the) notes|what is in your memory|show (?:your|my|the) notes)$/;
const FORGET = /^(?:please )?(?:forget (?:that|about|what i (?:said|told you) about|the note about|my note about)|forget|delete (?:the|my) note (?:about|that)|remove (?:the|my) note (?:about|that))\s+(.+)$/;

const matchMemory: Matcher = (plain, _context, raw) => {
  const original = prepareUtterance(raw).original.replace(/^(?:hey|ok|okay|so|please|jarvis)[\s,]+/i, '');
  const remember = REMEMBER.exec(original.replace(/^(?:can you|could you|would you|will you|please)\s+/i, ''));
  if (remember && /^(?:please )?(?:remember|note|make a note|take a note|keep in mind|do not forget|memori[sz]e)\b/.test(plain)) {
    const fact = tidyFact(remember[1]!);
    if (fact && !NOT_A_FACT.test(fact) && fact.split(' ').length >= 2) return { skill: 'memory.remember', fact };
  }
  if (RECALL_ALL.test(plain)) return { skill: 'memory.recall' };
  for (const pattern of RECALL_ABOUT) {
    const match = pattern.exec(plain);
    if (match) return { skill: 'memory.recall', about: match[1]! };
  }
  const forget = FORGET.exec(plain);
  if (forget) {
    const about = forget[1]!.trim();
    // "forget it", "forget everything", "forget me not" are not notes to forget.
    if (!/^(?:it|that|this|everything|all|about it|all of it)$/.test(about) && keywords(about).size > 0 && !KIND_WORD.test(about)) {
      return { skill: 'memory.forget', about };
    }
  }
  return undefined;
};

function tidyFact(text: string): string {
  const fact = text.replace(/^(?:that|:)\s*/i, '').replace(/[\s.!]+$/, '').trim();
  return fact ? fact[0]!.toUpperCase() + fact.slice(1) : '';
}

// Order matters where patterns could overlap: stopping beats everything, notes ("remember that the timer...")
// beat timers, cancelling beats setting.
const MATCHERS: Matcher[] = [
  matchStop,
  matchMemory,
  matchTime,
  matchDate,
  matchTimerList,
  matchTimerRemaining,
  matchTimerCancel,
  matchSnooze,
  matchTimerSet,
  matchAlarmSet,
  matchVolume,
  matchMachine,
];

/** For a follow-up answer to "For how long?": a duration said alone ("5 minutes", "for 5 minutes"). */
export function parseDurationAnswer(text: string): number | undefined {
  const words = plainWords(text).replace(/^(?:for|about|around|make it|set it (?:for|to)) /, '').split(' ');
  const span = durationAt(words, 0);
  return span && span.end === words.length ? span.ms : undefined;
}

/** For a follow-up answer to "For what time?": a time (and day) said alone; `day`: the one said before, if any. */
export function parseTimeAnswer(text: string, now: number, preferMorning: boolean, saidDay?: DaySpec): number | undefined {
  const words = plainWords(text).replace(/^(?:at|for|make it|set it (?:for|to)) /, '').split(' ');
  const day = findDay(words);
  const rest = day ? [...words.slice(0, day.start), ...words.slice(day.end)].filter((w) => w !== 'at') : words;
  const time = clockTimeAt(rest, 0, { bareHours: true });
  if (!time || time.end !== rest.length) return undefined;
  const which = day?.day ?? saidDay;
  return resolveClockTime(time, now, { ...(which ? { day: which } : {}), ...(day?.meridiem ? { dayMeridiem: day.meridiem } : {}), preferMorning });
}
