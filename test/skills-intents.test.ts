import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clockTimeAt, resolveClockTime } from '../core/skills/clock-time.ts';
import { durationAt, spokenDuration } from '../core/skills/durations.ts';
import { matchIntent, parseDurationAnswer, parseTimeAnswer } from '../core/skills/intents.ts';
import { plainWords } from '../core/skills/normalize.ts';
import { numberWordsToDigits } from '../core/skills/numbers.ts';
import type { SkillCall } from '../core/skills/skill-call.ts';
import { spokenClock, spokenDate } from '../core/skills/spoken.ts';

/**
 * The local intent matcher on the phrasings people use and the ones Whisper writes: with and without
 * punctuation and capitals, numbers as words or digits, "please"/"can you" around the request, slips such as
 * "set a time for", "for for minutes", "G.P.U.", "V RAM", "whats". Negative rows are requests that look alike
 * but are not a skill; they must go to the LLM. Times are resolved against Tuesday 25 November 2025, 3 PM.
 */

const NOW = new Date(2025, 10, 25, 15, 0, 0).getTime();
const at = (day: number, hour: number, minute = 0) => new Date(2025, 10, day, hour, minute).getTime();
const context = { now: NOW, timerLabels: ['pasta', 'eggs'], stopPhrases: ['stop', 'be quiet', 'enough'] };

type Expected = Partial<Record<string, unknown>> & { skill: SkillCall['skill'] };

function check(phrase: string, expected: Expected | undefined): void {
  const match = matchIntent(phrase, context);
  if (expected === undefined) {
    assert.equal(match, undefined, `"${phrase}" should go to the LLM, matched ${JSON.stringify(match?.call)}`);
    return;
  }
  assert.ok(match, `"${phrase}" was not recognised (plain: "${plainWords(phrase)}")`);
  const got = Object.fromEntries(Object.keys(expected).map((key) => [key, (match.call as Record<string, unknown>)[key]]));
  assert.deepEqual(got, expected, `"${phrase}" → ${JSON.stringify(match.call)}`);
}

const POSITIVE: [string, Expected][] = [
  // time
  ['what time is it', { skill: 'time' }],
  ['What time is it?', { skill: 'time' }],
  ['what time is it jarvis', { skill: 'time' }],
  ['Jarvis, what time is it?', { skill: 'time' }],
  ['whats the time', { skill: 'time' }],
  ["what's the time please", { skill: 'time' }],
  ['what is the current time', { skill: 'time' }],
  ['tell me the time', { skill: 'time' }],
  ['do you know what time it is', { skill: 'time' }],
  ['can you tell me what time it is', { skill: 'time' }],
  ['have you got the time', { skill: 'time' }],
  ['time please', { skill: 'time' }],
  ['the time', { skill: 'time' }],
  ['What time is it now?', { skill: 'time' }],
  ['um what time is it', { skill: 'time' }],
  ['what time do you make it', { skill: 'time' }],
  // date
  ["what's the date", { skill: 'date', dayOffset: 0 }],
  ['what is the date today', { skill: 'date', dayOffset: 0 }],
  ["what is today's date", { skill: 'date', dayOffset: 0 }],
  ['whats todays date', { skill: 'date', dayOffset: 0 }],
  ['what day is it', { skill: 'date', dayOffset: 0 }],
  ['What day is it today?', { skill: 'date', dayOffset: 0 }],
  ['which day is it', { skill: 'date', dayOffset: 0 }],
  ['what day is tomorrow', { skill: 'date', dayOffset: 1 }],
  ['what day is it tomorrow', { skill: 'date', dayOffset: 1 }],
  ["what's tomorrow's date", { skill: 'date', dayOffset: 1 }],
  ['what month is it', { skill: 'date', dayOffset: 0 }],
  ['what year is it', { skill: 'date', dayOffset: 0 }],
  ['the date please', { skill: 'date', dayOffset: 0 }],
  // timers by duration
  ['set a timer for 5 minutes', { skill: 'timer.set', durationMs: 300_000 }],
  ['Set a timer for five minutes.', { skill: 'timer.set', durationMs: 300_000 }],
  ['set a timer for five minute', { skill: 'timer.set', durationMs: 300_000 }],
  ['set timer 5 mins', { skill: 'timer.set', durationMs: 300_000 }],
  ['timer 5 minutes', { skill: 'timer.set', durationMs: 300_000 }],
  ['five minute timer', { skill: 'timer.set', durationMs: 300_000 }],
  ['can you set a timer for twenty-five minutes please', { skill: 'timer.set', durationMs: 1_500_000 }],
  ['set a timer for an hour and a half', { skill: 'timer.set', durationMs: 5_400_000 }],
  ['set a timer for one and a half hours', { skill: 'timer.set', durationMs: 5_400_000 }],
  ['set a timer for 1.5 hours', { skill: 'timer.set', durationMs: 5_400_000 }],
  ['set a timer for half an hour', { skill: 'timer.set', durationMs: 1_800_000 }],
  ['set a timer for a quarter of an hour', { skill: 'timer.set', durationMs: 900_000 }],
  ['start a timer for 90 seconds', { skill: 'timer.set', durationMs: 90_000 }],
  ['set a timer for 1 hour 20 minutes', { skill: 'timer.set', durationMs: 4_800_000 }],
  ['set a timer for one hour and twenty minutes', { skill: 'timer.set', durationMs: 4_800_000 }],
  ['set a timer for 5 minutes 30', { skill: 'timer.set', durationMs: 330_000 }],
  ['set a timer for two and a half minutes', { skill: 'timer.set', durationMs: 150_000 }],
  ['set a timer for a minute', { skill: 'timer.set', durationMs: 60_000 }],
  ['put a timer on for 10 minutes', { skill: 'timer.set', durationMs: 600_000 }],
  ['I need a timer for 3 minutes', { skill: 'timer.set', durationMs: 180_000 }],
  ['set a time for 5 minutes', { skill: 'timer.set', durationMs: 300_000 }],
  ['set a timer for for minutes', { skill: 'timer.set', durationMs: 240_000 }],
  ['set a timer for to minutes', { skill: 'timer.set', durationMs: 120_000 }],
  ['hey jarvis set a timer for 5 minutes', { skill: 'timer.set', durationMs: 300_000 }],
  ['set a timer', { skill: 'timer.set', durationMs: undefined }],
  // named timers and reminders
  ['set a pasta timer for 10 minutes', { skill: 'timer.set', durationMs: 600_000, label: 'pasta' }],
  ['set a timer for 10 minutes for the pasta', { skill: 'timer.set', durationMs: 600_000, label: 'pasta' }],
  ['set a timer called eggs for six minutes', { skill: 'timer.set', durationMs: 360_000, label: 'eggs' }],
  ['set a timer for 6 minutes called boiled eggs', { skill: 'timer.set', durationMs: 360_000, label: 'boiled eggs' }],
  ['set a 10 minute pasta timer', { skill: 'timer.set', durationMs: 600_000, label: 'pasta' }],
  ['remind me in 20 minutes to check the oven', { skill: 'timer.set', kind: 'reminder', durationMs: 1_200_000, label: 'check the oven' }],
  ['remind me to call mum in an hour', { skill: 'timer.set', kind: 'reminder', durationMs: 3_600_000, label: 'call mum' }],
  // alarms and reminders at a time (now is 3 PM on Tuesday the 25th)
  ['set an alarm for 7 am', { skill: 'alarm.set', kind: 'alarm', dueAt: at(26, 7) }],
  ['set an alarm for 7 a.m.', { skill: 'alarm.set', dueAt: at(26, 7) }],
  ['Set an alarm for 7AM.', { skill: 'alarm.set', dueAt: at(26, 7) }],
  ['set alarm 6:30', { skill: 'alarm.set', dueAt: at(25, 18, 30) }],
  ['set an alarm for 7', { skill: 'alarm.set', dueAt: at(25, 19) }],
  ['set an alarm for seven thirty tomorrow', { skill: 'alarm.set', dueAt: at(26, 7, 30) }],
  ['wake me up at 6:30', { skill: 'alarm.set', dueAt: at(26, 6, 30) }],
  ['wake me up at half past six tomorrow', { skill: 'alarm.set', dueAt: at(26, 6, 30) }],
  ['wake me at half six', { skill: 'alarm.set', dueAt: at(26, 6, 30) }],
  ['set an alarm for quarter to eight tomorrow morning', { skill: 'alarm.set', dueAt: at(26, 7, 45) }],
  ['set an alarm for 19:30', { skill: 'alarm.set', dueAt: at(25, 19, 30) }],
  ['set an alarm for 7 oh 5 pm', { skill: 'alarm.set', dueAt: at(25, 19, 5) }],
  ['set an alarm for 8 in the evening', { skill: 'alarm.set', dueAt: at(25, 20) }],
  ['set an alarm for noon', { skill: 'alarm.set', dueAt: at(26, 12) }],
  ['set an alarm for 7 30 pm called gym', { skill: 'alarm.set', dueAt: at(25, 19, 30), label: 'gym' }],
  ['set an alarm for 6 am on friday', { skill: 'alarm.set', dueAt: at(28, 6) }],
  ['wake me up in 8 hours', { skill: 'alarm.set', dueAt: NOW + 8 * 3_600_000 }],
  ['set an alarm', { skill: 'alarm.set', dueAt: undefined }],
  ['remind me to call mum at 5 pm', { skill: 'alarm.set', kind: 'reminder', dueAt: at(25, 17), label: 'call mum' }],
  ['remind me at 5pm to take the bins out', { skill: 'alarm.set', kind: 'reminder', dueAt: at(25, 17), label: 'take the bins out' }],
  // list, time left, cancel, snooze
  ['what timers do I have', { skill: 'timer.list' }],
  ['list my timers', { skill: 'timer.list' }],
  ['any timers', { skill: 'timer.list' }],
  ['do I have any alarms set', { skill: 'timer.list', kind: 'alarm' }],
  ['what alarms are set', { skill: 'timer.list', kind: 'alarm' }],
  ['how long left on the timer', { skill: 'timer.remaining' }],
  ['how much time is left', { skill: 'timer.remaining' }],
  ['How much longer on the timer?', { skill: 'timer.remaining' }],
  ['how long is left on the pasta timer', { skill: 'timer.remaining', target: { kind: 'timer', label: 'pasta' } }],
  ['how long until the eggs are done', { skill: 'timer.remaining', target: { label: 'eggs' } }],
  ['when is my alarm', { skill: 'timer.remaining', target: { kind: 'alarm' } }],
  ['when does my alarm go off', { skill: 'timer.remaining', target: { kind: 'alarm' } }],
  ['cancel the timer', { skill: 'timer.cancel', all: false, target: { kind: 'timer' } }],
  ['cancel the pasta timer', { skill: 'timer.cancel', all: false, target: { kind: 'timer', label: 'pasta' } }],
  ['Cancel the pasta timer.', { skill: 'timer.cancel', target: { kind: 'timer', label: 'pasta' } }],
  ['cancel the eggs', { skill: 'timer.cancel', target: { label: 'eggs' } }],
  ['cancel all timers', { skill: 'timer.cancel', all: true }],
  ['delete all my alarms', { skill: 'timer.cancel', all: true, target: { kind: 'alarm' } }],
  ['cancel my 7 am alarm', { skill: 'timer.cancel', target: { kind: 'alarm', clock: { hour: 7, minute: 0 } } }],
  ['cancel the 5 minute timer', { skill: 'timer.cancel', target: { kind: 'timer', durationMs: 300_000 } }],
  ['turn off the alarm', { skill: 'timer.cancel', target: { kind: 'alarm' } }],
  ['stop the timer', { skill: 'timer.cancel', target: { kind: 'timer' } }],
  ['snooze', { skill: 'timer.snooze' }],
  ['snooze the alarm', { skill: 'timer.snooze' }],
  // stop / never mind
  ['stop', { skill: 'stop' }],
  ['Stop.', { skill: 'stop' }],
  ['never mind', { skill: 'stop' }],
  ['nevermind', { skill: 'stop' }],
  ['forget it', { skill: 'stop' }],
  ['forget about it', { skill: 'stop' }],
  ['cancel', { skill: 'stop' }],
  ['be quiet', { skill: 'stop' }],
  ['shut up', { skill: 'stop' }],
  ['that is all thanks', { skill: 'stop' }],
  ['no thank you', { skill: 'stop' }],
  ['enough jarvis', { skill: 'stop' }],
  // volume and mute
  ['louder', { skill: 'volume.change', by: 20 }],
  ['a bit louder', { skill: 'volume.change', by: 10 }],
  ['turn it up', { skill: 'volume.change', by: 20 }],
  ['turn up the volume', { skill: 'volume.change', by: 20 }],
  ['volume up', { skill: 'volume.change', by: 20 }],
  ['quieter', { skill: 'volume.change', by: -20 }],
  ['turn the volume down', { skill: 'volume.change', by: -20 }],
  ['too loud', { skill: 'volume.change', by: -20 }],
  ['set the volume to 5', { skill: 'volume.set', level: 50 }],
  ['volume five', { skill: 'volume.set', level: 50 }],
  ['volume 70 percent', { skill: 'volume.set', level: 70 }],
  ['set volume to 70%', { skill: 'volume.set', level: 70 }],
  ['max volume', { skill: 'volume.set', level: 100 }],
  ['mute', { skill: 'volume.mute', muted: true }],
  ['mute yourself', { skill: 'volume.mute', muted: true }],
  ['unmute', { skill: 'volume.mute', muted: false }],
  ['un-mute', { skill: 'volume.mute', muted: false }],
  ["what's the volume", { skill: 'volume.get' }],
  ['stop listening', { skill: 'microphone.mute' }],
  // GPU and models
  ['how hot is the graphics card', { skill: 'gpu.temperature' }],
  ['How hot is the GPU?', { skill: 'gpu.temperature' }],
  ["what's the GPU temperature", { skill: 'gpu.temperature' }],
  ['G.P.U. temp', { skill: 'gpu.temperature' }],
  ['how warm is the video card', { skill: 'gpu.temperature' }],
  ['is the gpu overheating', { skill: 'gpu.temperature' }],
  ['how much vram is used', { skill: 'gpu.memory' }],
  ['how much V RAM is free', { skill: 'gpu.memory' }],
  ['vram usage', { skill: 'gpu.memory' }],
  ['how much video memory is left', { skill: 'gpu.memory' }],
  ['which model is loaded', { skill: 'model.current' }],
  ['what model are you using', { skill: 'model.current' }],
  ['which language model are you running', { skill: 'model.current' }],
  ['what LLM is loaded', { skill: 'model.current' }],
  ['switch to the big model', { skill: 'model.switch', target: 'big' }],
  ['switch model to qwen', { skill: 'model.switch', target: 'qwen' }],
  ['use the small model', { skill: 'model.switch', target: 'small' }],
  // household notes
  ['remember that the wifi password is on the fridge', { skill: 'memory.remember', fact: 'The wifi password is on the fridge' }],
  ['Remember, the bins go out on Tuesday.', { skill: 'memory.remember', fact: 'The bins go out on Tuesday' }],
  ["don't forget that grandma visits on Sunday", { skill: 'memory.remember', fact: 'Grandma visits on Sunday' }],
  ['please remember the spare key is under the blue pot', { skill: 'memory.remember', fact: 'The spare key is under the blue pot' }],
  ['what do you remember about the wifi', { skill: 'memory.recall', about: 'the wifi' }],
  ['what did I tell you about the bins', { skill: 'memory.recall', about: 'the bins' }],
  ['what do you remember', { skill: 'memory.recall', about: undefined }],
  ['what have I told you', { skill: 'memory.recall', about: undefined }],
  ['forget that the wifi password is on the fridge', { skill: 'memory.forget', about: 'the wifi password is on the fridge' }],
  ['forget about the wifi password', { skill: 'memory.forget', about: 'the wifi password' }],
];

const NEGATIVE: string[] = [
  'what time is it in tokyo',
  'what time does the shop close',
  'what is time',
  'what time is the match tonight',
  'what day is christmas',
  'what is the date of easter next year',
  'how long does a 5 minute timer take',
  'how long should I boil an egg',
  'how long until christmas',
  'tell me about timers',
  'who invented the alarm clock',
  'what is an alarm',
  'cancel the party',
  'cancel my subscription to netflix',
  'stop the war',
  'turn up the heating',
  'turn down the lights',
  'mute the tv',
  'what is the volume of the earth',
  'is it loud outside',
  'how hot is the sun',
  'what is the temperature outside',
  'how hot is the oven',
  'how do graphics cards work',
  'which graphics card should I buy',
  'switch on the lights',
  'switch to bbc one',
  'model a house in blender',
  'remember when we went to paris',
  'do you remember the song from the film',
  'I can not remember where I put my keys',
  'what do you know',
  'tell me a joke',
  'what is the capital of france',
  'set the table for dinner',
  'hello',
  'thanks for the timer',
  'how are you today',
  'forget me not',
  'what is the time complexity of quicksort',
  'turn the music up',
  'how much vram does llama need',
  'wake me up inside',
];

describe('local intents: phrasings that are skills (with transcription slips)', () => {
  for (const [phrase, expected] of POSITIVE) test(`"${phrase}" → ${expected.skill}`, () => check(phrase, expected));
});

describe('local intents: look-alikes that must go to the LLM', () => {
  for (const phrase of NEGATIVE) test(`"${phrase}" → LLM`, () => check(phrase, undefined));
});

test(`the tables hold at least 100 phrasings (${POSITIVE.length} skills, ${NEGATIVE.length} look-alikes)`, () => {
  assert.ok(POSITIVE.length + NEGATIVE.length >= 100);
  assert.ok(NEGATIVE.length >= 30);
});

test('a configured stop phrase ends the turn as a request', () => {
  assert.equal(matchIntent('halt now please', { ...context, stopPhrases: ['halt'] })?.call.skill, 'stop');
});

describe('the parts the patterns are built from', () => {
  test('number words become digits, compounds and hundreds included', () => {
    assert.equal(numberWordsToDigits('twenty five minutes'), '25 minutes');
    assert.equal(numberWordsToDigits('one hundred and twenty seconds'), '120 seconds');
    assert.equal(numberWordsToDigits('a hundred'), '100');
    assert.equal(numberWordsToDigits('seven thirty'), '7 30');
    assert.equal(numberWordsToDigits('one and a half hours'), '1 and a half hours');
    assert.equal(numberWordsToDigits('which one is it'), 'which 1 is it');
  });

  test('plain words: punctuation, case, contractions, a.m./p.m., politeness and spellings', () => {
    assert.equal(plainWords("Can you set a timer for 5 minutes, please?"), 'set a timer for 5 minutes');
    assert.equal(plainWords("What's the G.P.U. temperature?"), 'what is the gpu temperature');
    assert.equal(plainWords('Wake me at 7.30 a.m.'), 'wake me at 7.30 am');
    assert.equal(plainWords('7AM'), '7 am');
    assert.equal(plainWords('1.5 hours'), '1.5 hours');
  });

  test('durations', () => {
    const ms = (text: string) => durationAt(plainWords(text).split(' '), 0)?.ms;
    assert.equal(ms('5 minutes'), 300_000);
    assert.equal(ms('an hour and a half'), 5_400_000);
    assert.equal(ms('3 quarters of an hour'), 2_700_000);
    assert.equal(ms('a couple of minutes'), 120_000);
    assert.equal(ms('half a minute'), 30_000);
    assert.equal(ms('2 hours and 5 minutes and 10 seconds'), 7_510_000);
    assert.equal(ms('5 apples'), undefined);
    assert.equal(spokenDuration(5_400_000), '1 hour and 30 minutes');
    assert.equal(spokenDuration(90_000), '1 minute and 30 seconds');
  });

  test('clock times: next occurrence, am/pm, 24-hour, days', () => {
    const resolve = (text: string, options = {}) => {
      const span = clockTimeAt(plainWords(text).split(' '), 0, { bareHours: true });
      assert.ok(span, text);
      return resolveClockTime(span, NOW, options);
    };
    assert.equal(resolve('7'), at(25, 19));
    assert.equal(resolve('7', { preferMorning: true }), at(26, 7));
    assert.equal(resolve('2 pm'), at(26, 14), '2 PM has passed today');
    assert.equal(resolve('midnight'), at(26, 0));
    assert.equal(resolve('quarter past 4'), at(25, 16, 15));
    assert.equal(resolve('10 to 9 pm'), at(25, 20, 50));
    assert.equal(clockTimeAt(['25', 'am'], 0), undefined, '25 AM is not a time');
  });

  test('answers to "For how long?" and "For what time?"', () => {
    assert.equal(parseDurationAnswer('five minutes'), 300_000);
    assert.equal(parseDurationAnswer('For 10 minutes please.'), 600_000);
    assert.equal(parseDurationAnswer('what is the weather'), undefined);
    assert.equal(parseTimeAnswer('7 am', NOW, true), at(26, 7));
    assert.equal(parseTimeAnswer('tomorrow at 9', NOW, false), at(26, 9));
    assert.equal(parseTimeAnswer('tell me a joke', NOW, false), undefined);
  });

  test('times and dates as they are written in answers', () => {
    assert.equal(spokenClock(at(25, 7)), '7 AM');
    assert.equal(spokenClock(at(25, 19, 5)), '7:05 PM', 'the text form; toSpokenText makes it "7 oh 5 PM"');
    assert.equal(spokenClock(at(25, 19, 30)), '7:30 PM');
    assert.equal(spokenClock(at(25, 12)), 'noon');
    assert.equal(spokenDate(NOW), 'Tuesday the 25th of November, 2025');
  });
});
