import { createRequire } from 'node:module';
import type { JarvisConfig } from '../../config/schema.ts';
import { RunEventBus } from '../../core/events.ts';
import { runTurn } from '../../core/pipeline/turn.ts';
import type { Responder } from '../../core/responder.ts';
import { CAPTURE_SAMPLE_RATE } from '../../voice/ports.ts';
import { samplesToMs } from '../../voice/pcm.ts';
import { WhisperTranscriber } from '../../voice/stt/whisper.ts';
import { inspectWhisperModel } from '../../voice/stt/whisper-model-file.ts';
import type { NativeWhisperContext } from '../../voice/stt/whisper-native.ts';
import { alternately, msTaken } from '../lib/stats.ts';

/**
 * Whisper through JARVIS (WhisperTranscriber inside a turn, timed by the turn's stt-start/stt-end events)
 * against the @fugood/whisper.node binding called directly, on the same request audio, model file, threads and
 * language, alternating which goes first.
 */

export interface SttSample {
  readonly jarvisMs: number;
  readonly rawMs: number;
  readonly audioMs: number;
}

export interface SttResult {
  readonly samples: SttSample[];
  readonly description: string;
}

const WARMUP = 2;

/**
 * The binding's public API, as its README shows it. Required, not imported: the package ships TypeScript sources
 * without declarations, which this project's compiler settings cannot check.
 */
interface WhisperBinding {
  initWhisper(options: { filePath: string; useGpu: boolean }, variant?: 'default' | 'cuda'): Promise<NativeWhisperContext>;
  toggleNativeLog(enable: boolean): Promise<void>;
  addNativeLogListener(listener: (level: string, text: string) => void): { remove(): void };
}
const binding = () => createRequire(import.meta.url)('@fugood/whisper.node') as WhisperBinding;

/** Ends a turn right after its transcript: this phase times speech to text only. */
const noAnswer: Responder = {
  engine: 'none',
  load: async () => ({ summary: 'no answer (speech-to-text figures only)' }),
  async *respond() {},
  resetConversation: async () => {},
  answerCutOff: async () => {},
  dispose: async () => {},
};

export async function measureStt(config: JarvisConfig, requests: Int16Array[], runs: number): Promise<SttResult> {
  const { stt } = config;
  const transcriber = new WhisperTranscriber({ model: stt.model, threads: stt.threads, language: stt.language, useGpu: stt.useGpu });
  await transcriber.load();
  // The same language choice as WhisperTranscriber: English-only models are always asked for English.
  const language = (await inspectWhisperModel(stt.model)).multilingual ? stt.language : 'en';
  // whisper.cpp prints its model load to stderr; JARVIS routes it to its log, the raw load drops it.
  const { initWhisper, toggleNativeLog, addNativeLogListener } = binding();
  const quiet = addNativeLogListener(() => undefined);
  await toggleNativeLog(true);
  const raw = await initWhisper({ filePath: stt.model, useGpu: transcriber.variant === 'cuda' }, transcriber.variant === 'cuda' ? 'cuda' : 'default').finally(async () => {
    await toggleNativeLog(false);
    quiet.remove();
  });
  const bus = new RunEventBus();
  const jarvisMs = async (audio: Int16Array) => {
    const run = bus.startRun('file');
    await runTurn({ transcriber, responder: noAnswer, verifyWakeWord: false }, run, { audio, includesWakeWord: true }, new AbortController().signal);
    const end = run.first('stt-end');
    if (!end) throw new Error(`no stt-end in ${run.events.map((e) => e.type).join(', ')}`);
    return end.ms;
  };
  const rawMs = (audio: Int16Array) => msTaken(() => raw.transcribeData(audio.slice().buffer as ArrayBuffer, { language, maxThreads: stt.threads }).promise);
  try {
    const samples: SttSample[] = [];
    for (let i = 0; i < runs + WARMUP; i++) {
      const audio = requests[i % requests.length]!;
      const [j, r] = await alternately(i, () => jarvisMs(audio), () => rawMs(audio));
      if (i >= WARMUP) samples.push({ jarvisMs: j, rawMs: r, audioMs: samplesToMs(audio.length, CAPTURE_SAMPLE_RATE) });
    }
    return { samples, description: transcriber.description };
  } finally {
    await transcriber.dispose();
    await raw.release();
  }
}
