import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { readWavFile, writeWavFile } from '../voice/wav.ts';
import { levelDbfs } from '../voice/pcm.ts';
import { jsonLines, runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { modelsWaitingToRetry, startTestHud } from './fixtures/hud-server.ts';
import { concat, silence, speak } from './fixtures/speech.ts';

/**
 * The `jarvis` command as a user runs it, with the real engines (Whisper, LLM and Piper on test-made
 * random-weight models; wake word and VAD on their real weights).
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-cli-'));
let config: string;
let question: string;

before(async () => {
  config = await testModelsConfig();
  // A user's recording: 44.1 kHz stereo, as a phone or desktop recorder would make it.
  const mono = path.join(dir, 'question-16k.wav');
  await writeWavFile(mono, { samples: concat(silence(500), await speak('hey jarvis, what time is it', { engine: 'espeak', voice: 'en-us' }), silence(2000)), sampleRate: 16000 });
  question = path.join(dir, 'question.wav');
  execFileSync('sox', [mono, '-r', '44100', '-c', '2', question]);
});

describe('jarvis turn', () => {
  test('answers a WAV file: run events as JSON lines, a valid spoken reply WAV', async () => {
    const reply = path.join(dir, 'reply.wav');
    const jarvis = runJarvis(['-c', config, 'turn', '--input', question, '--output', reply, '--json']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const events = jsonLines(jarvis.stdout);
    const types = events.map((e) => e.type);
    for (const type of ['run-start', 'wake', 'vad-end', 'stt-end', 'first-token', 'llm-end', 'tts-end', 'playback-start', 'run-end']) {
      assert.ok(types.includes(type), `${type} in ${types.join(',')}`);
    }
    assert.equal(events.at(-1)!.outcome, 'answered');
    const audio = await readWavFile(reply, 22_050);
    assert.ok(audio.length > 22_050 * 0.2 && levelDbfs(audio) > -40, `reply: ${audio.length} samples at ${levelDbfs(audio).toFixed(0)} dBFS`);
  });

  test('prints what was heard, the answer and the stage timings for a person', async () => {
    const jarvis = runJarvis(['-c', config, 'turn', '--input', question, '--output', 'none']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const out = jarvis.stdout.join('\n');
    assert.match(out, /wake word "hey jarvis" \(score 0\.\d\d/);
    assert.match(out, /you said: /);
    assert.match(out, /jarvis: {3}\S/);
    assert.match(out, /speech end → first audio +\d+ ms/);
    assert.match(out, /speech to text +\d+ ms/);
  });

  test('a file that is not audio is refused with a clear message', async () => {
    const notes = path.join(dir, 'notes.wav');
    fs.writeFileSync(notes, 'shopping list: milk, eggs');
    const jarvis = runJarvis(['-c', config, 'turn', '--input', notes]);
    assert.equal(await jarvis.exit, 2);
    assert.match(jarvis.stderr.join('\n'), /not a readable WAV file[\s\S]*fix: Convert it first/);
  });
});

describe('jarvis start --input (replaying a recording)', () => {
  test('answers every request in the recording, prints the events, and exits at its end', async () => {
    const voice = { engine: 'espeak', voice: 'en-gb', wordsPerMinute: 150 } as const;
    const recording = path.join(dir, 'evening.wav');
    await writeWavFile(recording, {
      samples: concat(silence(500), await speak('hey jarvis, what is the weather', voice), silence(12_000), await speak('hey jarvis, turn on the lights', voice), silence(1000)),
      sampleRate: 16000,
    });
    // Twice as fast as real time (answers play at that speed too): the second request still comes after the first answer.
    const jarvis = runJarvis(['-c', config, 'start', '--input', recording, '--speed', '2', '--json'], { JARVIS_CONVERSATION__FOLLOW_UP_MS: '0' });
    assert.equal(await jarvis.exit, 0, jarvis.stderr.slice(-20).join('\n'));
    const events = jsonLines(jarvis.stdout);
    const ends = events.filter((e) => e.type === 'run-end');
    assert.deepEqual(ends.map((e) => e.outcome), ['answered', 'answered'], events.map((e) => `${e.runId} ${e.type}`).join('\n'));
    assert.equal(events.filter((e) => e.type === 'wake').length, 2);
  });

  test('with the model files missing it says which, the one command that fetches each, and still answers with an apology', async () => {
    const missing = path.join(dir, 'missing-models.json');
    // Whisper at its default place in an empty models folder (a catalog model); the LLM at the default file name.
    fs.writeFileSync(missing, JSON.stringify({ dataDir: path.join(dir, 'empty-data'), llm: { model: '/nonexistent/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf' }, tts: { engine: 'espeak' } }));
    // Four times real time: the apology alone is 7 s of speech.
    const jarvis = runJarvis(['-c', missing, 'start', '--input', question, '--speed', '4', '--json']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.slice(-20).join('\n'));
    const problems = jsonLines(jarvis.stderr).filter((e) => typeof e.problem === 'string');
    const fixOf = (id: string) => problems.find((e) => e.problem === id)?.fix;
    assert.equal(fixOf('stt-model'), 'Run `jarvis models pull whisper-base.en`.');
    assert.match(String(fixOf('llm-model')), /^Run `jarvis models pull`: it downloads the LLM that fits this machine/);
    const events = jsonLines(jarvis.stdout);
    const error = events.find((e) => e.type === 'error');
    assert.equal(error?.code, 'model-missing');
    assert.ok(events.some((e) => e.type === 'tts-end'), 'the apology was spoken');
  });
});

describe('jarvis ask', () => {
  test('streams a typed answer to stdout', async () => {
    const jarvis = runJarvis(['-c', config, 'ask', 'what', 'is', 'the', 'time']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    assert.ok(jarvis.stdout.join('').trim().length > 0, 'an answer was printed');
  });

  test('--json gives the run events of a text turn, --output writes the spoken answer', async () => {
    const reply = path.join(dir, 'ask.wav');
    const jarvis = runJarvis(['-c', config, 'ask', 'hello', '--json', '--output', reply]);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const events = jsonLines(jarvis.stdout);
    assert.equal(events[0]!.trigger, 'text');
    assert.ok(events.some((e) => e.type === 'llm-end'));
    assert.ok((await readWavFile(reply, 22_050)).length > 0);
  });
});

describe('letting phones in', () => {
  test('`jarvis start --lan` is remembered: the next commands offer phones an HTTPS address on the network; `--no-lan` takes it back', async () => {
    const dataDir = path.join(dir, 'lan-data');
    const env = { JARVIS_DATA_DIR: dataDir };
    const pairUrl = async () => {
      const pair = runJarvis(['devices', 'pair', '--json'], env);
      assert.equal(await pair.exit, 0, pair.stderr.join('\n'));
      return String(jsonLines(pair.stdout)[0]!.url);
    };
    assert.match(await pairUrl(), /^http:\/\/127\.0\.0\.1:7300\/#pair=\d{6}$/, 'this computer only by default');
    // The choice is written before anything else happens (this start then stops on a missing recording).
    const start = runJarvis(['start', '--lan', '--input', path.join(dir, 'no-such.wav')], env);
    assert.notEqual(await start.exit, 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dataDir, 'lan.json'), 'utf8')), { lan: true });
    const lan = await pairUrl();
    assert.match(lan, /^https:\/\//, lan);
    assert.doesNotMatch(lan, /127\.0\.0\.1/, 'a phone is offered an address on the network');
    const off = runJarvis(['start', '--no-lan', '--input', path.join(dir, 'no-such.wav')], env);
    assert.notEqual(await off.exit, 0);
    assert.match(await pairUrl(), /^http:\/\/127\.0\.0\.1:/);
  });
});

describe('configuration and diagnosis', () => {
  test('a wrong setting stops the start with its key, value and what is allowed', async () => {
    const jarvis = runJarvis(['-c', config, 'start'], { JARVIS_LLM__GPU: 'quantum' });
    assert.equal(await jarvis.exit, 2);
    assert.match(jarvis.stderr.join('\n'), /llm\.gpu = "quantum": one of "auto", "cuda", "vulkan", "cpu"/);
  });

  test('doctor loads every model, explains a missing microphone and speaker with the fix, and has the running JARVIS retry its failed downloads', async () => {
    // A JARVIS running on this machine whose first-run downloads failed and wait to be tried again.
    const models = modelsWaitingToRetry();
    const running = await startTestHud({ models });
    let report: { ok: boolean; checks: { name: string; ok: boolean; optional?: boolean; fix?: string; detail: string }[] };
    try {
      const doctorConfig = await testModelsConfig({ server: { port: Number(new URL(running.url).port) } });
      // No sound server and no sound card here: both devices fail, every model loads.
      const jarvis = runJarvis(['-c', doctorConfig, 'doctor', '--json'], { PULSE_SERVER: 'unix:/nonexistent/socket' });
      assert.equal(await jarvis.exit, 1);
      report = JSON.parse(jarvis.stdout.join('\n')) as typeof report;
    } finally {
      await running.close();
    }
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    for (const name of ['wake word', 'VAD', 'speech to text', 'language model', 'voice', 'fallback voice (espeak-ng)']) {
      assert.ok(byName[name]?.ok, `${name}: ${byName[name]?.detail}`);
    }
    assert.match(byName['language model']!.detail, /CPU, \d+\/\d+ layers on GPU/);
    assert.equal(byName.microphone!.ok, false);
    assert.match(byName.microphone!.fix ?? '', /microphone/i);
    assert.equal(report.ok, false);
    assert.match(byName['running JARVIS']!.detail, /^running at http:\/\/127\.0\.0\.1:\d+, idle; asked it to try its failed downloads again now$/);
    assert.equal(models.retries, 1);
  });
});
