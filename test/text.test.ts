import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SentenceSplitter, toSpokenText } from '../core/sentences.ts';
import { cleanTranscript, isStopPhrase, splitAtWakeWord, WakeName } from '../core/pipeline/transcript.ts';

function split(pieces: string[]): string[] {
  const splitter = new SentenceSplitter();
  const out = pieces.flatMap((p) => splitter.push(p));
  return [...out, ...splitter.flush()];
}

describe('sentence splitter (streamed tokens)', () => {
  test('releases each sentence as soon as it is complete', () => {
    const splitter = new SentenceSplitter();
    assert.deepEqual(splitter.push('It is half'), []);
    assert.deepEqual(splitter.push(' past ten. The'), ['It is half past ten.']);
    assert.deepEqual(splitter.push(' sun sets at'), []);
    assert.deepEqual(splitter.push(' six! Anything'), ['The sun sets at six!']);
    assert.deepEqual(splitter.flush(), ['Anything']);
  });

  test('token boundaries do not matter', () => {
    const text = 'Sure. Dr. Smith lives at No. 5 Main St. in town. It costs 3.50 pounds? Yes.';
    const expected = ['Sure.', 'Dr. Smith lives at No. 5 Main St. in town.', 'It costs 3.50 pounds?', 'Yes.'];
    assert.deepEqual(split([text]), expected);
    assert.deepEqual(split(text.split('')), expected);
    assert.deepEqual(split(text.split(/(?= )/)), expected);
  });

  test('abbreviations, times, dates and numbered lists are not cut; sentences ending on a word like "no" are', () => {
    const cases: Array<[string, string[]]> = [
      ['The meeting is at 3 p.m. tomorrow. Bring notes.', ['The meeting is at 3 p.m. tomorrow.', 'Bring notes.']],
      ['It starts at 3 p.m. Bring notes.', ['It starts at 3 p.m.', 'Bring notes.']],
      ['The U.S. economy grew. A.I. systems help.', ['The U.S. economy grew.', 'A.I. systems help.']],
      ['It opens on Jan. 5 this year. See you then.', ['It opens on Jan. 5 this year.', 'See you then.']],
      ['I said no. Then I left.', ['I said no.', 'Then I left.']],
      ['Look at the sun. It is bright.', ['Look at the sun.', 'It is bright.']],
      ['Ask for No. 5 at the desk.', ['Ask for No. 5 at the desk.']],
      ['Wait 10 min. then stir.', ['Wait 10 min. then stir.']],
      ['Steps:\n1. Boil water.\n2. Add tea.', ['Steps:', '1. Boil water.', '2. Add tea.']],
      ['You need 1. Apples 2. Pears 3. Plums.', ['You need 1.', 'Apples', '2. Pears', '3. Plums.']],
      ['Buy 1. Apples from Dr. Lee 2. Pears.', ['Buy 1.', 'Apples from Dr. Lee', '2. Pears.']],
      ['I am 2. Then I grew.', ['I am 2.', 'Then I grew.']],
    ];
    for (const [text, expected] of cases) {
      assert.deepEqual(split([text]), expected, text);
      assert.deepEqual(split(text.split('')), expected, `${text} (one character at a time)`);
    }
  });

  test('a full stop that needs the next word to be understood waits only for that word', () => {
    const splitter = new SentenceSplitter();
    assert.deepEqual(splitter.push('It is ten. '), ['It is ten.']);
    assert.deepEqual(splitter.push('Doors open at 3 p.m. '), []);
    assert.deepEqual(splitter.push('Come'), ['Doors open at 3 p.m.']);
  });

  test('a long first clause is released at a comma so speech starts early', () => {
    const out = split(['Well, that depends on where you are and what time of year it is, but in general the days are shorter in winter.']);
    assert.equal(out.length, 2);
    assert.match(out[0]!, /time of year it is,$/);
  });

  test('newlines end sentences; punctuation-only leftovers are dropped', () => {
    assert.deepEqual(split(['First line\nSecond line\n', ' ...']), ['First line', 'Second line']);
  });

  test('a run-on answer is cut before it gets too long to start speaking', () => {
    const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
    const out = split([words]);
    assert.ok(out.length >= 2 && out.every((s) => s.length <= 230), JSON.stringify(out.map((s) => s.length)));
    assert.equal(out.join(' '), words);
  });
});

describe('spoken text', () => {
  test('markdown, bullets, links and emoji are not read aloud', () => {
    assert.equal(toSpokenText('## Tips\n- **Drink** water 💧\n- see [the guide](http://x.y/z) or https://example.com'),
      'Tips Drink water see the guide or a link');
    assert.equal(toSpokenText('Read https://example.com/faq. Then call.'), 'Read a link. Then call.');
  });

  test('dashes between words are spoken as pauses, between numbers as ranges, hyphens left alone; clock times as people say them', () => {
    // Spaced en and em dashes are left for the voice, which pauses at them (Piper's "; ", as its own phonemizer
    // gives); closed and typed dashes, at which it would not, become a spaced em dash.
    assert.equal(toSpokenText('The plan — first we boil it.'), 'The plan — first we boil it.');
    assert.equal(toSpokenText('The plan—first we boil it – then we eat.'), 'The plan — first we boil it – then we eat.');
    assert.equal(toSpokenText('Boil it - gently.'), 'Boil it — gently.');
    assert.equal(toSpokenText('Stir it -- slowly--until it thickens.'), 'Stir it — slowly — until it thickens.');
    // Times are written as read ("7:05 PM" on the screen) and said as people say them.
    assert.equal(toSpokenText("It's 7:05 PM, the bus is at 12:00 and the race ended at 1:02:33."), "It's 7 oh 5 PM, the bus is at 12 and the race ended at 1:02:33.");
    assert.equal(toSpokenText('Rest it 3–5 minutes, a well-known trick at -5 degrees.'), 'Rest it 3 to 5 minutes, a well-known trick at -5 degrees.');
    assert.equal(toSpokenText('Use `ls` then\n```\nrm -rf /\n```\ndone'), 'Use ls then done');
  });
});

describe('transcripts', () => {
  test('non-speech tags and the wake word are removed', () => {
    assert.equal(cleanTranscript(' [BLANK_AUDIO] '), '');
    assert.equal(cleanTranscript('Jarvis, what time is it?'), 'what time is it?');
    assert.equal(cleanTranscript('Hey Jarvis. (music) Turn it up'), 'Turn it up');
    assert.equal(cleanTranscript('What is Jarvis?'), 'What is Jarvis?');
  });

  test('the wake-word check accepts Whisper spellings and rejects near misses', () => {
    assert.deepEqual(splitAtWakeWord(' Hey Jarvis, what time is it?'), { heardWakeWord: true, request: 'what time is it?' });
    assert.deepEqual(splitAtWakeWord('and then. Hey Jervis turn on the lights'), { heardWakeWord: true, request: 'turn on the lights' });
    assert.equal(splitAtWakeWord('Hey Travis, what time is it?').heardWakeWord, false);
    assert.equal(splitAtWakeWord('Hey Charles.').heardWakeWord, false);
    assert.equal(splitAtWakeWord('I told them about the show last night and they said Jarvis was').heardWakeWord, false);
  });

  test('a custom wake phrase: its name is looked for, one-edit spellings pass for names of five letters or more', () => {
    const computer = new WakeName('Hey Computer');
    assert.deepEqual(splitAtWakeWord('Hey computer, lights off.', computer), { heardWakeWord: true, request: 'lights off.' });
    assert.deepEqual(splitAtWakeWord('Hey Komputer lights off', computer), { heardWakeWord: true, request: 'lights off' });
    assert.equal(splitAtWakeWord('Hey Jarvis, lights off.', computer).heardWakeWord, false);
    assert.equal(cleanTranscript('Computer, what time is it?', computer), 'what time is it?');
    assert.ok(isStopPhrase('Computer, stop!', ['stop'], computer));
    const max = new WakeName('ok max');
    assert.equal(splitAtWakeWord('OK Max, play music', max).request, 'play music');
    assert.equal(splitAtWakeWord('OK Mix, play music', max).heardWakeWord, false, 'short names must match exactly');
    assert.throws(() => new WakeName('  !! '), /no word/);
  });

  test('stop phrases', () => {
    for (const heard of ['Stop.', 'stop it', 'Jarvis, stop!', 'Be quiet please', 'never mind', 'OK, stop.']) {
      assert.ok(isStopPhrase(heard, ['stop', 'stop it', 'be quiet', 'never mind']), heard);
    }
    for (const heard of ["don't stop", 'stop the music at six', 'the bus stop', '', '[BLANK_AUDIO]']) {
      assert.ok(!isStopPhrase(heard, ['stop', 'stop it', 'be quiet', 'never mind']), heard);
    }
  });
});
