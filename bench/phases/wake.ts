import { splitAtWakeWord } from '../../core/pipeline/transcript.ts';
import { WAKE_CONTEXT_MS } from '../../core/pipeline/voice-loop.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber } from '../../voice/ports.ts';
import { msToSamples, samplesToMs } from '../../voice/pcm.ts';
import { OpenWakeWordDetector } from '../../voice/wake/openwakeword.ts';
import type { NegativeStream, PositiveClip } from '../lib/speech-sets.ts';
import { summarize, type Summary } from '../lib/stats.ts';

/**
 * The wake word's DET table: false rejects on the positive set and false accepts per hour on a long stream of
 * speech that is not addressed to JARVIS, for three thresholds, plus how long after the keyword ends it fires.
 *
 * The detector scores every 80 ms frame once (threshold 0 returns every score); thresholds are then applied to
 * those scores with the voice loop's refractory time, exactly as the daemon would have decided, so all thresholds
 * are judged on the same audio at the cost of one pass.
 */

const STEP = 1280;
const STEP_MS = samplesToMs(STEP, CAPTURE_SAMPLE_RATE);

export interface DetRow {
  readonly threshold: number;
  readonly configured: boolean;
  readonly positives: number;
  readonly misses: number;
  /** % of positives never detected. */
  readonly frr: number;
  readonly falseAccepts: number;
  readonly faPerHour: number;
  /** False accepts during ordinary talk only (near misses excluded). */
  readonly ordinaryFaPerHour: number;
  /** % of near-miss utterances that woke it. */
  readonly nearMissRate: number;
  /** Audio time from the end of "hey jarvis" to the frame that fired (ms). */
  readonly delay?: Summary;
  /** With Whisper's transcript check (wake.verifyTranscript) after the detector: real STT models only. */
  readonly withTranscriptCheck?: { readonly frr: number; readonly faPerHour: number };
}

export interface WakeResult {
  readonly rows: DetRow[];
  /** FRR and FA/h over a fine threshold sweep, for the DET plot. */
  readonly sweep: { threshold: number; frr: number; faPerHour: number }[];
  readonly positives: number;
  readonly negativeMinutes: number;
  readonly negativeSpeechMinutes: number;
  readonly nearMisses: number;
  /** CPU the openWakeWord chain alone costs, in % of one core per second of audio. */
  readonly cpuPercentOfCore: number;
  /** The chain's CPU on the same stretch of talk with the embedding streamed and with the whole model each step. */
  readonly embeddingCpu: { streamed: number; whole: number; seconds: number };
  readonly transcriptCheckNote: string;
  readonly missedAtConfigured: string[];
  readonly refractoryMs: number;
}

export async function measureWake(options: {
  positives: PositiveClip[];
  negatives: NegativeStream;
  thresholds: number[];
  configuredThreshold: number;
  refractoryMs: number;
  /** A Whisper that can hear words, for the transcript-check columns; undefined with test-made models. */
  transcriber?: Transcriber;
  transcriptCheckNote: string;
}): Promise<WakeResult> {
  const detector = await OpenWakeWordDetector.create({ threshold: 0 });
  try {
    const positiveScores: Float32Array[] = [];
    for (const clip of options.positives) {
      detector.reset();
      positiveScores.push(await frameScores(detector, clip.pcm));
    }
    detector.reset();
    const cpuBefore = process.cpuUsage();
    const negativeScores = await frameScores(detector, options.negatives.pcm);
    const cpu = process.cpuUsage(cpuBefore);
    const audioSeconds = options.negatives.pcm.length / CAPTURE_SAMPLE_RATE;
    const hours = audioSeconds / 3600;
    const refractoryFrames = Math.ceil(options.refractoryMs / STEP_MS);

    const judge = (threshold: number) => {
      const detections = options.positives.map((clip, i) => firstDetection(positiveScores[i]!, clip, threshold));
      const accepts = acceptedFrames(negativeScores, threshold, refractoryFrames);
      const onNearMiss = accepts.filter((frame) => nearMissAt(options.negatives, frameEnd(frame)) !== undefined);
      const nearMissesFired = new Set(onNearMiss.map((frame) => nearMissAt(options.negatives, frameEnd(frame))));
      const ordinaryHours = hours - samplesToMs(options.negatives.nearMisses.reduce((n, m) => n + (m.end - m.start), 0), CAPTURE_SAMPLE_RATE) / 3_600_000;
      return { detections, accepts, onNearMiss, nearMissesFired, ordinaryHours };
    };

    const rows: DetRow[] = [];
    let missedAtConfigured: string[] = [];
    for (const threshold of options.thresholds) {
      const { detections, accepts, onNearMiss, nearMissesFired, ordinaryHours } = judge(threshold);
      const misses = detections.filter((d) => d === undefined).length;
      const delay = summarize(detections.flatMap((d) => (d === undefined ? [] : [d.delayMs])));
      const configured = threshold === options.configuredThreshold;
      if (configured) missedAtConfigured = options.positives.filter((_, i) => detections[i] === undefined).map((c) => c.label);
      const withTranscriptCheck =
        configured && options.transcriber
          ? await transcriptCheck(options.transcriber, options.positives, detections, options.negatives, accepts, hours)
          : undefined;
      rows.push({
        threshold,
        configured,
        positives: options.positives.length,
        misses,
        frr: (100 * misses) / options.positives.length,
        falseAccepts: accepts.length,
        faPerHour: accepts.length / hours,
        ordinaryFaPerHour: (accepts.length - onNearMiss.length) / ordinaryHours,
        nearMissRate: (100 * nearMissesFired.size) / Math.max(1, options.negatives.nearMisses.length),
        ...(delay ? { delay } : {}),
        ...(withTranscriptCheck ? { withTranscriptCheck } : {}),
      });
    }
    const sweep = Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100).map((threshold) => {
      const { detections, accepts } = judge(threshold);
      return {
        threshold,
        frr: (100 * detections.filter((d) => d === undefined).length) / options.positives.length,
        faPerHour: accepts.length / hours,
      };
    });
    const embeddingCpu = await streamedVsWhole(options.negatives.pcm.subarray(0, 300 * CAPTURE_SAMPLE_RATE));
    return {
      embeddingCpu,
      rows,
      sweep,
      positives: options.positives.length,
      negativeMinutes: audioSeconds / 60,
      negativeSpeechMinutes: options.negatives.speechMs / 60_000,
      nearMisses: options.negatives.nearMisses.length,
      cpuPercentOfCore: (100 * (cpu.user + cpu.system)) / 1e6 / audioSeconds,
      transcriptCheckNote: options.transcriber ? 'Whisper transcript of each detection must contain "Jarvis" (wake.verifyTranscript)' : options.transcriptCheckNote,
      missedAtConfigured,
      refractoryMs: options.refractoryMs,
    };
  } finally {
    await detector.dispose();
  }
}

/**
 * The chain's CPU (% of one core) with the streamed embedding and, as before it, the whole embedding model each
 * step, interleaved in 10 s turns so both see the same machine load.
 */
async function streamedVsWhole(pcm: Int16Array): Promise<WakeResult['embeddingCpu']> {
  const streamed = await OpenWakeWordDetector.create({ threshold: 0 });
  const whole = await OpenWakeWordDetector.create({ threshold: 0, streamEmbedding: false });
  try {
    const used = { streamed: 0, whole: 0 };
    const turn = 10 * CAPTURE_SAMPLE_RATE;
    for (let offset = 0; offset < pcm.length; offset += turn) {
      for (const [name, detector] of [['streamed', streamed], ['whole', whole]] as const) {
        const before = process.cpuUsage();
        await frameScores(detector, pcm.subarray(offset, offset + turn));
        const cpu = process.cpuUsage(before);
        used[name] += (cpu.user + cpu.system) / 1e6;
      }
    }
    const seconds = pcm.length / CAPTURE_SAMPLE_RATE;
    return { streamed: (100 * used.streamed) / seconds, whole: (100 * used.whole) / seconds, seconds };
  } finally {
    await Promise.all([streamed.dispose(), whole.dispose()]);
  }
}

/** One score per 80 ms frame, fed in frame-sized chunks like the microphone's. */
async function frameScores(detector: OpenWakeWordDetector, pcm: Int16Array): Promise<Float32Array> {
  const scores = new Float32Array(Math.floor(pcm.length / STEP));
  for (let frame = 0; frame < scores.length; frame++) {
    const found = await detector.process(pcm.subarray(frame * STEP, (frame + 1) * STEP));
    scores[frame] = found.at(-1)?.score ?? 0;
  }
  return scores;
}

const frameEnd = (frame: number) => (frame + 1) * STEP;

function firstDetection(scores: Float32Array, clip: PositiveClip, threshold: number): { frame: number; delayMs: number } | undefined {
  for (let frame = 0; frame < scores.length; frame++) {
    if (frameEnd(frame) <= clip.keywordStart || scores[frame]! < threshold) continue;
    return { frame, delayMs: samplesToMs(frameEnd(frame) - clip.keywordEnd, CAPTURE_SAMPLE_RATE) };
  }
  return undefined;
}

/** Frames at which the voice loop would have woken: score over the threshold and outside the refractory time. */
function acceptedFrames(scores: Float32Array, threshold: number, refractoryFrames: number): number[] {
  const accepted: number[] = [];
  let last = -Infinity;
  for (let frame = 0; frame < scores.length; frame++) {
    if (scores[frame]! >= threshold && frame - last >= refractoryFrames) {
      accepted.push(frame);
      last = frame;
    }
  }
  return accepted;
}

/** The near miss a detection at `sample` belongs to (it may fire up to a second after the words). */
function nearMissAt(stream: NegativeStream, sample: number): number | undefined {
  const after = msToSamples(1000, CAPTURE_SAMPLE_RATE);
  const index = stream.nearMisses.findIndex((m) => sample >= m.start && sample <= m.end + after);
  return index < 0 ? undefined : index;
}

/** What remains after Whisper must hear "Jarvis" in the audio the daemon would transcribe for each detection. */
async function transcriptCheck(
  transcriber: Transcriber,
  positives: PositiveClip[],
  detections: ({ frame: number } | undefined)[],
  negatives: NegativeStream,
  accepts: number[],
  hours: number,
): Promise<{ frr: number; faPerHour: number }> {
  const heardJarvis = async (audio: Int16Array) => splitAtWakeWord((await transcriber.transcribe(audio)).text).heardWakeWord;
  let kept = 0;
  for (let i = 0; i < positives.length; i++) if (detections[i] && (await heardJarvis(positives[i]!.pcm))) kept++;
  let falseKept = 0;
  const before = msToSamples(WAKE_CONTEXT_MS, CAPTURE_SAMPLE_RATE);
  const after = msToSamples(2500, CAPTURE_SAMPLE_RATE);
  for (const frame of accepts) {
    const at = frameEnd(frame);
    if (await heardJarvis(negatives.pcm.subarray(Math.max(0, at - before), at + after))) falseKept++;
  }
  return { frr: (100 * (positives.length - kept)) / positives.length, faPerHour: falseKept / hours };
}
