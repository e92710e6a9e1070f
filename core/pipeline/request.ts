import { CAPTURE_SAMPLE_RATE, type VoiceActivityDetector, type WakeDetection, type WakeWordDetector } from '../../voice/ports.ts';
import { msToSamples, samplesToMs } from '../../voice/pcm.ts';
import { Endpointer, type EndpointerOptions } from '../../voice/vad/endpointer.ts';
import { WAKE_CONTEXT_MS } from './voice-loop.ts';

/**
 * Finds the request in a recording of one turn (`jarvis turn`): after the wake word when the recording has one,
 * else from its first speech. The same endpointer as the live loop decides where the request ends.
 */

export interface RecordedRequest {
  audio: Int16Array;
  wake?: WakeDetection & { atMs: number };
  reason: 'silence' | 'max-length' | 'source-ended';
  speechMs: number;
  /** Where the request's speech ended in the recording (end-of-speech as the endpointer decided it). */
  endMs: number;
}

export async function findRecordedRequest(
  recording: Int16Array,
  wake: WakeWordDetector,
  vad: VoiceActivityDetector,
  endpointing: Omit<EndpointerOptions, 'frameMs' | 'noSpeechTimeoutMs'>,
): Promise<RecordedRequest | undefined> {
  const wakeAt = await findWake(recording, wake);
  const start = wakeAt ? wakeAt.endSample : 0;
  const endpointer = new Endpointer({ ...endpointing, frameMs: samplesToMs(vad.frameSamples, CAPTURE_SAMPLE_RATE) });
  vad.reset();
  const chunk = vad.frameSamples * 4;
  let onsetSample: number | undefined;
  for (let offset = start; offset < recording.length; offset += chunk) {
    const probabilities = await vad.process(recording.subarray(offset, offset + chunk));
    for (const p of probabilities) {
      const event = endpointer.push(p);
      const frameEnd = start + endpointer.frame * vad.frameSamples;
      if (event?.type === 'speech-start') onsetSample = frameEnd - vad.frameSamples;
      if (event?.type === 'speech-end') {
        return request(recording, wakeAt, onsetSample ?? start, frameEnd, event.reason, event.speechMs);
      }
    }
  }
  if (onsetSample === undefined) return undefined;
  const speechMs = samplesToMs(recording.length - onsetSample, CAPTURE_SAMPLE_RATE);
  return request(recording, wakeAt, onsetSample, recording.length, 'source-ended', speechMs);
}

function request(
  recording: Int16Array,
  wakeAt: (WakeDetection & { endSample: number }) | undefined,
  onsetSample: number,
  endSample: number,
  reason: RecordedRequest['reason'],
  speechMs: number,
): RecordedRequest {
  // With a wake word, the audio starts with it (as in the live loop) so the transcript can confirm it.
  const from = wakeAt ? Math.max(0, wakeAt.endSample - msToSamples(WAKE_CONTEXT_MS, CAPTURE_SAMPLE_RATE)) : Math.max(0, onsetSample - msToSamples(300, CAPTURE_SAMPLE_RATE));
  return {
    audio: recording.slice(from, endSample),
    ...(wakeAt ? { wake: { keyword: wakeAt.keyword, score: wakeAt.score, atMs: samplesToMs(wakeAt.endSample, CAPTURE_SAMPLE_RATE) } } : {}),
    reason,
    speechMs,
    endMs: samplesToMs(endSample, CAPTURE_SAMPLE_RATE),
  };
}

async function findWake(recording: Int16Array, wake: WakeWordDetector): Promise<(WakeDetection & { endSample: number }) | undefined> {
  wake.reset();
  const step = 1280;
  for (let offset = 0; offset < recording.length; offset += step) {
    const found = await wake.process(recording.subarray(offset, offset + step));
    if (found.length > 0) return { ...found[0]!, endSample: Math.min(recording.length, offset + step) };
  }
  return undefined;
}
