import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../base/package-root.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { RunEventBus } from '../../core/events.ts';
import { runTurn } from '../../core/pipeline/turn.ts';
import type { Responder } from '../../core/responder.ts';
import { BASE_EN_SHAPE, ensureTinyWhisperModel } from '../../test/models/whisper-ggml.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber } from '../../voice/ports.ts';
import { concatInt16, msToSamples, samplesToMs } from '../../voice/pcm.ts';
import { createTranscriber, type SttSettings } from '../../voice/stt/select.ts';
import { audioContextFor } from '../../voice/stt/whisper-local.ts';
import { WHISPER_BUILD_DIR } from '../../voice/stt/whisper-local-build.ts';
import { inspectWhisperModel } from '../../voice/stt/whisper-model-file.ts';
import { encodeWav } from '../../voice/wav.ts';
import { alternately } from '../lib/stats.ts';

/**
 * Whisper through JARVIS (the transcriber the daemon would get, inside a turn, timed by the turn's stt-start/stt-end
 * events) against raw whisper.cpp: its own whisper-cli, built from the same sources with the same flags
 * (`node scripts/build-whisper.js --cli`), on the same audio, model file, threads, language, greedy decoding and
 * audio_ctx, alternating which goes first. whisper-cli's time for a request is its total less its model load.
 *
 * Two parts: the configured model on the turn requests (as before), and a 3 s request on 2 threads on the configured
 * model and on models of ggml-base.en.bin's shape (test-made random weights, f16 and q8_0), where what a real model
 * costs shows; for the f16 one also with the full 30 s window and through the prebuilt @fugood/whisper.node.
 */

export interface SttSample {
  readonly jarvisMs: number;
  readonly rawMs: number;
  readonly audioMs: number;
}

export interface SttShapeResult {
  readonly id: string;
  /** The model, in words. */
  readonly model: string;
  readonly file: string;
  /** whisper.cpp's audio_ctx for the 3 s request, in 20 ms frames (1500: the full window). */
  readonly audioContext: number;
  /** JARVIS and whisper-cli with that audio_ctx (rawMs NaN where whisper-cli could not run). */
  readonly samples: SttSample[];
  /** Both with the full 30 s window. */
  readonly fullWindow?: SttSample[];
  /** The prebuilt @fugood/whisper.node, the fallback, through JARVIS (a few runs: it is slow). */
  readonly prebuiltMs?: number[];
}

export interface SttResult {
  /** The configured model on the turn requests. */
  readonly samples: SttSample[];
  readonly description: string;
  readonly rawLabel: string;
  /** Why whisper-cli was not measured, when it was not. */
  readonly rawMissing?: string;
  readonly threeSecond: SttShapeResult[];
}

const WARMUP = 2;
export const SHORT_REQUEST_MS = 3000;
export const SHORT_REQUEST_THREADS = 2;
const run = promisify(execFile);

/** Ends a turn right after its transcript: this phase times speech to text only. */
const noAnswer: Responder = {
  engine: 'none',
  load: async () => ({ summary: 'no answer (speech-to-text figures only)' }),
  async *respond() {},
  resetConversation: async () => {},
  answerCutOff: async () => {},
  retract: async () => {},
  dispose: async () => {},
};

export async function measureStt(config: JarvisConfig, requests: Int16Array[], runs: number): Promise<SttResult> {
  const native = await whisperCli();
  const bench = new SttBench(native.cli);
  try {
    const transcriber = createTranscriber(config.stt);
    await transcriber.load();
    const description = transcriber.description;
    let samples: SttSample[];
    try {
      samples = await bench.pairs(transcriber, config.stt, requests, runs);
    } finally {
      await transcriber.dispose();
    }

    const short = requests.map((r) => exactly(r, SHORT_REQUEST_MS));
    const configured = { ...config.stt, threads: SHORT_REQUEST_THREADS };
    const [f16, q8] = await Promise.all([
      ensureTinyWhisperModel({ ...BASE_EN_SHAPE, ftype: 1 }),
      ensureTinyWhisperModel({ ...BASE_EN_SHAPE, ftype: 7 }),
    ]);
    const few = Math.max(3, Math.round(runs / 4));
    const threeSecond = [
      await bench.shape('configured', `${path.basename(config.stt.model)} (the configured model)`, configured, short, runs),
      await bench.shape('base-f16', 'base.en-shaped, f16 (test-made random weights, 148 MB)', { ...configured, model: f16 }, short, runs, {
        fullWindowRuns: few,
        prebuiltRuns: runs >= 10 ? 3 : 1,
      }),
      await bench.shape('base-q8_0', 'base.en-shaped, q8_0 (test-made random weights, 82 MB)', { ...configured, model: q8 }, short, runs),
    ];
    return {
      samples,
      description,
      rawLabel: 'whisper-cli (same build and settings)',
      ...(native.missing ? { rawMissing: native.missing } : {}),
      threeSecond,
    };
  } finally {
    bench.dispose();
  }
}

/** `pcm` cut or padded with silence to `ms`. */
function exactly(pcm: Int16Array, ms: number): Int16Array {
  const samples = msToSamples(ms, CAPTURE_SAMPLE_RATE);
  return pcm.length >= samples ? pcm.slice(0, samples) : concatInt16(pcm, new Int16Array(samples - pcm.length));
}

/** whisper-cli from the local build, built now if it is not there yet; or why there is none. */
async function whisperCli(): Promise<{ cli?: string; missing?: string }> {
  try {
    await run(process.execPath, [path.join(packageRoot, 'scripts', 'build-whisper.js'), '--cli'], { cwd: packageRoot, timeout: 20 * 60_000 });
  } catch (error) {
    const said = (error as { stdout?: string }).stdout?.trim().split('\n').at(-1);
    return { missing: `whisper-cli could not be built: ${said ?? String(error)}` };
  }
  const cli = path.join(WHISPER_BUILD_DIR, 'build', 'bin', 'whisper-cli');
  return fs.existsSync(cli) ? { cli } : { missing: `no ${cli}` };
}

class SttBench {
  readonly #bus = new RunEventBus();
  readonly #wavDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-stt-'));
  readonly #wavs = new Map<Int16Array, string>();

  constructor(private readonly cli: string | undefined) {}

  /** Both sides on each request in turn (after WARMUP unrecorded runs), alternating which goes first. */
  async pairs(transcriber: Transcriber, stt: SttSettings, requests: Int16Array[], runs: number): Promise<SttSample[]> {
    const language = (await inspectWhisperModel(stt.model)).multilingual ? stt.language : 'en';
    const samples: SttSample[] = [];
    for (let i = 0; i < runs + WARMUP; i++) {
      const audio = requests[i % requests.length]!;
      const audioMs = samplesToMs(audio.length, CAPTURE_SAMPLE_RATE);
      const audioCtx = audioContextFor(stt.audioContext, audioMs);
      const [j, r] = await alternately(i, () => this.#jarvisMs(transcriber, audio), () => this.#nativeMs(stt, language, audio, audioCtx));
      if (i >= WARMUP) samples.push({ jarvisMs: j, rawMs: r, audioMs });
    }
    return samples;
  }

  async shape(
    id: string,
    model: string,
    stt: SttSettings,
    requests: Int16Array[],
    runs: number,
    extra: { fullWindowRuns?: number; prebuiltRuns?: number } = {},
  ): Promise<SttShapeResult> {
    const withJarvis = async <T>(settings: SttSettings, body: (t: Transcriber) => Promise<T>): Promise<T> => {
      const transcriber = createTranscriber(settings);
      await transcriber.load();
      try {
        return await body(transcriber);
      } finally {
        await transcriber.dispose();
      }
    };
    const samples = await withJarvis(stt, (t) => this.pairs(t, stt, requests, runs));
    const full = { ...stt, audioContext: 0 };
    const fullWindow = extra.fullWindowRuns ? await withJarvis(full, (t) => this.pairs(t, full, requests, extra.fullWindowRuns!)) : undefined;
    const prebuiltRuns = extra.prebuiltRuns;
    const prebuiltMs = prebuiltRuns
      ? await withJarvis({ ...stt, build: 'prebuilt' }, async (t) => {
          const times: number[] = [];
          for (let i = 0; i < prebuiltRuns; i++) times.push(await this.#jarvisMs(t, requests[i % requests.length]!));
          return times;
        })
      : undefined;
    return {
      id,
      model,
      file: stt.model,
      audioContext: audioContextFor(stt.audioContext, SHORT_REQUEST_MS) || 1500,
      samples,
      ...(fullWindow ? { fullWindow } : {}),
      ...(prebuiltMs ? { prebuiltMs } : {}),
    };
  }

  dispose(): void {
    fs.rmSync(this.#wavDir, { recursive: true, force: true });
  }

  async #jarvisMs(transcriber: Transcriber, audio: Int16Array): Promise<number> {
    const run = this.#bus.startRun('file');
    await runTurn({ transcriber, responder: noAnswer, verifyWakeWord: false }, run, { audio, includesWakeWord: true }, new AbortController().signal);
    const end = run.first('stt-end');
    if (!end) throw new Error(`no stt-end in ${run.events.map((e) => e.type).join(', ')}`);
    return end.ms;
  }

  /** whisper-cli's time for the request: its total less its model load (both from whisper_print_timings). */
  async #nativeMs(stt: SttSettings, language: string, audio: Int16Array, audioCtx: number): Promise<number> {
    if (!this.cli) return Number.NaN;
    const args = ['-m', stt.model, '-f', this.#wav(audio), '-t', String(stt.threads), '-l', language, '-bs', '1', '-ac', String(audioCtx)];
    const { stderr } = await run(this.cli, args, { maxBuffer: 16 * 1024 * 1024 });
    const figure = (name: string) => Number(new RegExp(`${name} time =\\s*([\\d.]+) ms`).exec(stderr)?.[1]);
    return figure('total') - figure('load');
  }

  #wav(audio: Int16Array): string {
    let file = this.#wavs.get(audio);
    if (!file) {
      file = path.join(this.#wavDir, `request-${this.#wavs.size}.wav`);
      fs.writeFileSync(file, encodeWav({ samples: audio, sampleRate: CAPTURE_SAMPLE_RATE }));
      this.#wavs.set(audio, file);
    }
    return file;
  }
}

