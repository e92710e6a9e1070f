import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as ort from 'onnxruntime-node';
import { abortError, JarvisError, ModelFileError } from '../../base/errors.ts';
import { ThreadSession, type ThreadTensor } from '../onnx-thread.ts';
import { concatInt16 } from '../pcm.ts';
import type { PcmAudio, SpeechRequest, Synthesizer } from '../ports.ts';
import {
  BOS,
  EOS,
  PAD,
  describeMissing,
  normalizeText,
  phonemesToIds,
  phonemize,
  textPhonemes,
  type Phoneme,
  type PhonemeIdMap,
  type PhonemeMap,
  type TtsLog,
} from './phonemize.ts';

/**
 * Piper voices (VITS exported to ONNX) run in-process with onnxruntime: phonemes from espeak-ng, ids as Piper
 * builds them, one model run per sentence, and Piper's own scaling of the result to 16-bit.
 */

const VOICES_BASE = 'https://huggingface.co/rhasspy/piper-voices/resolve/main';
const VOICES_INDEX = 'https://huggingface.co/rhasspy/piper-voices/tree/main';
/** Piper's defaults when a voice config leaves them out. */
const DEFAULT_SAMPLE_RATE = 22_050;
const DEFAULT_INFERENCE = { noiseScale: 0.667, lengthScale: 1, noiseW: 0.8 };
/** Piper puts this much silence between the sentences of one text. */
const SENTENCE_SILENCE_SECONDS = 0.2;
const MAX_WAV_VALUE = 32_767;

export interface PiperVoiceConfig {
  readonly sampleRate: number;
  readonly espeakVoice: string;
  readonly phonemeType: 'espeak' | 'text';
  readonly noiseScale: number;
  readonly lengthScale: number;
  readonly noiseW: number;
  readonly numSpeakers: number;
  readonly phonemeIdMap: PhonemeIdMap;
  readonly phonemeMap?: PhonemeMap;
}

export interface PiperVoiceFiles {
  readonly modelPath: string;
  readonly configPath: string;
}

/** The .onnx and .onnx.json of a voice, from either path. */
export function piperVoiceFiles(voicePath: string): PiperVoiceFiles {
  const modelPath = voicePath.endsWith('.onnx.json') ? voicePath.slice(0, -'.json'.length) : voicePath;
  return { modelPath, configPath: `${modelPath}.json` };
}

/**
 * Where rhasspy/piper-voices keeps a voice named <lang>_<REGION>-<name>-<quality>, e.g. en_GB-alan-medium:
 * en/en_GB/alan/medium/en_GB-alan-medium.onnx. Undefined for names outside that pattern.
 */
export function piperVoiceUrls(voicePath: string): { model: string; config: string } | undefined {
  const name = path.basename(piperVoiceFiles(voicePath).modelPath, '.onnx');
  const match = /^(([a-z]{2,3})_[A-Z]{2})-(.+)-(x_low|low|medium|high)$/.exec(name);
  if (!match) return undefined;
  const [, locale, family, speaker, quality] = match;
  const model = `${VOICES_BASE}/${family}/${locale}/${speaker}/${quality}/${name}.onnx`;
  return { model, config: `${model}.json` };
}

function downloadFix(voicePath: string, verb = 'Download'): string {
  const { modelPath } = piperVoiceFiles(voicePath);
  const dir = path.dirname(modelPath);
  const urls = piperVoiceUrls(voicePath);
  if (urls) {
    return `${verb} both files of the voice, ${urls.model} and ${urls.config}, into ${dir}/ (keep their names), or set tts.engine to "espeak".`;
  }
  return (
    `${verb} a voice's .onnx and its .onnx.json from ${VOICES_INDEX} into ${dir}/ and point tts.voice at the .onnx ` +
    `(${path.basename(modelPath)} needs ${path.basename(modelPath)}.json beside it), or set tts.engine to "espeak".`
  );
}

async function fileExists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Both files present? Synchronous so an engine can be chosen without loading anything. */
export function piperVoiceFilesExist(voicePath: string): boolean {
  const { modelPath, configPath } = piperVoiceFiles(voicePath);
  return [modelPath, configPath].every((file) => fsSync.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false);
}

/** Throws `model-missing` naming every absent file and where to get it. */
export async function assertPiperVoiceFiles(voicePath: string): Promise<PiperVoiceFiles> {
  const files = piperVoiceFiles(voicePath);
  const missing = [];
  for (const file of [files.modelPath, files.configPath]) if (!(await fileExists(file))) missing.push(file);
  if (missing.length > 0) {
    throw new ModelFileError(
      'model-missing',
      missing[0]!,
      `Piper voice file${missing.length > 1 ? 's' : ''} not found: ${missing.join(', ')}`,
      downloadFix(voicePath),
    );
  }
  return files;
}

/** Reads and checks a voice's .onnx.json; the errors say which key is wrong. */
export async function readPiperVoiceConfig(configPath: string, voicePath = configPath): Promise<PiperVoiceConfig> {
  let root: unknown;
  try {
    root = JSON.parse(await fs.readFile(configPath, 'utf8'));
  } catch (error) {
    throw new ModelFileError(
      'model-corrupt',
      configPath,
      `the Piper voice config ${configPath} is not readable JSON (${(error as Error).message})`,
      downloadFix(voicePath, 'Download again'),
      { cause: error },
    );
  }
  const wrong = (problem: string) =>
    new ModelFileError(
      'model-wrong-format',
      configPath,
      `${configPath} is not a Piper voice config: ${problem}`,
      downloadFix(voicePath, 'Download again'),
    );
  if (!isRecord(root)) throw wrong('it is not a JSON object');

  const idMap = new Map<Phoneme, number[]>();
  const rawIdMap = root.phoneme_id_map;
  if (!isRecord(rawIdMap)) throw wrong('"phoneme_id_map" is missing');
  for (const [symbol, ids] of Object.entries(rawIdMap)) {
    if ([...symbol].length !== 1) throw wrong(`phoneme_id_map key "${symbol}" is not a single character`);
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
      throw wrong(`phoneme_id_map["${symbol}"] is not a list of ids`);
    }
    idMap.set(symbol, ids as number[]);
  }
  for (const symbol of [PAD, BOS, EOS]) {
    if (!idMap.has(symbol)) throw wrong(`phoneme_id_map has no "${symbol}"`);
  }

  let phonemeMap: Map<Phoneme, Phoneme[]> | undefined;
  if (isRecord(root.phoneme_map) && Object.keys(root.phoneme_map).length > 0) {
    phonemeMap = new Map();
    for (const [from, to] of Object.entries(root.phoneme_map)) {
      if (!Array.isArray(to) || !to.every((p) => typeof p === 'string')) throw wrong(`phoneme_map["${from}"] is not a list`);
      phonemeMap.set(from, to as string[]);
    }
  }

  const numSpeakers = root.num_speakers;
  if (!Number.isInteger(numSpeakers) || (numSpeakers as number) < 1) throw wrong('"num_speakers" is missing or not a whole number');
  const audio = isRecord(root.audio) ? root.audio : {};
  const sampleRate = audio.sample_rate ?? DEFAULT_SAMPLE_RATE;
  if (!Number.isInteger(sampleRate) || (sampleRate as number) < 8000) throw wrong(`audio.sample_rate ${JSON.stringify(sampleRate)} is not a sample rate`);
  const phonemeType = root.phoneme_type ?? 'espeak';
  if (phonemeType !== 'espeak' && phonemeType !== 'text') throw wrong(`phoneme_type "${String(phonemeType)}" is not supported (only espeak and text)`);
  const espeak = isRecord(root.espeak) ? root.espeak : {};
  const inference = isRecord(root.inference) ? root.inference : {};
  const number = (key: keyof typeof DEFAULT_INFERENCE, jsonKey: string) => {
    const value = inference[jsonKey] ?? DEFAULT_INFERENCE[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong(`inference.${jsonKey} is not a number`);
    return value;
  };
  return {
    sampleRate: sampleRate as number,
    espeakVoice: typeof espeak.voice === 'string' && espeak.voice ? espeak.voice : 'en-us',
    phonemeType,
    noiseScale: number('noiseScale', 'noise_scale'),
    lengthScale: number('lengthScale', 'length_scale'),
    noiseW: number('noiseW', 'noise_w'),
    numSpeakers: numSpeakers as number,
    phonemeIdMap: idMap,
    phonemeMap,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Opens the .onnx, turning the runtime's refusals into errors that say what is wrong with the file. */
async function openSession(modelPath: string, voicePath: string, threads?: number): Promise<ThreadSession> {
  const head = Buffer.alloc(64);
  const handle = await fs.open(modelPath, 'r');
  let headLength: number;
  try {
    headLength = (await handle.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await handle.close();
  }
  if (headLength === 0) {
    throw new ModelFileError('model-corrupt', modelPath, `the Piper model ${modelPath} is empty`, downloadFix(voicePath, 'Download again'));
  }
  if (head.toString('latin1', 0, headLength).startsWith('version https://git-lfs')) {
    throw new ModelFileError(
      'model-corrupt',
      modelPath,
      `${modelPath} is a Git LFS pointer, not the model itself`,
      downloadFix(voicePath, 'Download (through the resolve/ links, not the page links)'),
    );
  }

  const options: ort.InferenceSession.SessionOptions = {
    // As Piper: graph optimisation roughly doubles a VITS voice's load time for no audible gain, and without the
    // arena the memory of a long sentence is returned instead of kept for the daemon's lifetime.
    graphOptimizationLevel: 'disabled',
    enableCpuMemArena: false,
    enableMemPattern: false,
  };
  if (threads) options.intraOpNumThreads = threads;
  try {
    // In a thread of its own: a sentence's synthesis must not stall the microphone and the wake word (onnx-thread.ts).
    return await ThreadSession.create(modelPath, options);
  } catch (error) {
    const detail = (error as Error).message;
    if (/protobuf parsing failed/i.test(detail)) {
      throw new ModelFileError(
        'model-corrupt',
        modelPath,
        `${modelPath} is not a readable ONNX model (truncated or damaged download?): ${detail}`,
        downloadFix(voicePath, 'Download again'),
        { cause: error },
      );
    }
    throw new ModelFileError(
      'model-wrong-format',
      modelPath,
      `onnxruntime cannot run ${modelPath}: ${detail}`,
      `tts.voice must be a Piper voice (.onnx from ${VOICES_INDEX}); ${downloadFix(voicePath)}`,
      { cause: error },
    );
  }
}

function assertPiperSignature(session: ThreadSession, config: PiperVoiceConfig, modelPath: string, voicePath: string): void {
  const inputs = new Set(session.inputNames);
  const needed = ['input', 'input_lengths', 'scales', ...(config.numSpeakers > 1 ? ['sid'] : [])];
  const absent = needed.filter((name) => !inputs.has(name));
  if (absent.length > 0 || !session.outputNames.includes('output')) {
    throw new ModelFileError(
      'model-wrong-format',
      modelPath,
      `${modelPath} is an ONNX model but not a Piper voice: it takes [${session.inputNames.join(', ')}] and gives ` +
        `[${session.outputNames.join(', ')}], where Piper needs inputs [${needed.join(', ')}] and output "output"`,
      downloadFix(voicePath),
    );
  }
}

export interface PiperSynthesizerOptions {
  /** The voice's .onnx; its .onnx.json must be beside it. */
  voicePath: string;
  /** Speaking rate multiplier: 1 as the voice was trained, 1.2 a fifth faster. */
  rate?: number;
  /** For multi-speaker voices; Piper's default is speaker 0. */
  speakerId?: number;
  /** onnxruntime intra-op threads; its default uses every core. */
  threads?: number;
  log?: TtsLog;
  /** The espeak-ng program used for phonemes. */
  espeakCommand?: string;
}

/** What the last synthesize() spent, for logs and benchmarks. */
export interface PiperTiming {
  readonly phonemizeMs: number;
  readonly inferMs: number;
  readonly audioMs: number;
  /** Inference time over audio time; below 1 is faster than real time. */
  readonly realTimeFactor: number;
  readonly sentences: number;
}

interface LoadedVoice {
  readonly config: PiperVoiceConfig;
  readonly session: ThreadSession;
}

export class PiperSynthesizer implements Synthesizer {
  readonly engine = 'piper';
  readonly voicePath: string;
  readonly #rate: number;
  readonly #speakerId: number;
  readonly #threads: number | undefined;
  readonly #log: TtsLog | undefined;
  readonly #espeakCommand: string | undefined;
  #voice: Promise<LoadedVoice> | undefined;
  #loadMs: number | undefined;
  #lastTiming: PiperTiming | undefined;

  constructor(options: PiperSynthesizerOptions) {
    this.voicePath = options.voicePath;
    this.#rate = options.rate ?? 1;
    this.#speakerId = options.speakerId ?? 0;
    this.#threads = options.threads;
    this.#log = options.log;
    this.#espeakCommand = options.espeakCommand;
  }

  /** Milliseconds the last load took (config + session), once loaded. */
  get loadMs(): number | undefined {
    return this.#loadMs;
  }

  get lastTiming(): PiperTiming | undefined {
    return this.#lastTiming;
  }

  /** Sample rate of the voice; known once loaded. */
  async sampleRate(): Promise<number> {
    return (await this.#load()).config.sampleRate;
  }

  /** Reads the config and creates the onnxruntime session, once; later calls reuse it. */
  async load(): Promise<void> {
    await this.#load();
  }

  #load(): Promise<LoadedVoice> {
    this.#voice ??= this.#open().catch((error: unknown) => {
      this.#voice = undefined; // a later call may find the files fixed
      throw error;
    });
    return this.#voice;
  }

  async #open(): Promise<LoadedVoice> {
    const started = performance.now();
    const { modelPath, configPath } = await assertPiperVoiceFiles(this.voicePath);
    const config = await readPiperVoiceConfig(configPath, this.voicePath);
    if (config.numSpeakers > 1 && (this.#speakerId < 0 || this.#speakerId >= config.numSpeakers)) {
      throw new JarvisError(
        'piper-speaker-unknown',
        `the Piper voice ${modelPath} has no speaker ${this.#speakerId}; its speakers are 0 to ${config.numSpeakers - 1}`,
        `Pick a speaker id below ${config.numSpeakers}.`,
      );
    }
    // The phonemizer and the voice's language are checked now (the library or the program, whichever will
    // phonemize), so a missing install or an unknown language shows at start, not mid-answer.
    if (config.phonemeType === 'espeak') await phonemize('a', { voice: config.espeakVoice, command: this.#espeakCommand });
    const session = await openSession(modelPath, this.voicePath, this.#threads);
    try {
      assertPiperSignature(session, config, modelPath, this.voicePath);
    } catch (error) {
      await session.release();
      throw error;
    }
    this.#loadMs = performance.now() - started;
    this.#log?.debug(
      { voice: modelPath, ms: Math.round(this.#loadMs), sampleRate: config.sampleRate, espeakVoice: config.espeakVoice },
      'piper voice loaded',
    );
    return { config, session };
  }

  async synthesize(request: SpeechRequest): Promise<PcmAudio> {
    const { signal } = request;
    if (signal?.aborted) throw abortError(signal, 'speech synthesis aborted');
    const voice = await this.#load();
    const { config } = voice;
    const text = normalizeText(request.text);
    if (!text) return { samples: new Int16Array(0), sampleRate: config.sampleRate };

    const started = performance.now();
    const sentences =
      config.phonemeType === 'text'
        ? textPhonemes(text, config.phonemeMap)
        : await phonemize(text, { voice: config.espeakVoice, phonemeMap: config.phonemeMap, signal, command: this.#espeakCommand });
    const phonemizeMs = performance.now() - started;

    const chunks: Int16Array[] = [];
    const silence = new Int16Array(Math.round(SENTENCE_SILENCE_SECONDS * config.sampleRate));
    const missing = new Map<Phoneme, number>();
    let inferMs = 0;
    for (const [index, sentence] of sentences.entries()) {
      const ids = phonemesToIds(sentence, config.phonemeIdMap);
      for (const [phoneme, count] of ids.missing) missing.set(phoneme, (missing.get(phoneme) ?? 0) + count);
      if (signal?.aborted) throw abortError(signal, 'speech synthesis aborted');
      const inferStarted = performance.now();
      const audio = await this.#infer(voice, ids.ids);
      inferMs += performance.now() - inferStarted;
      // onnxruntime cannot stop a run midway: the check after it drops the result of an aborted request.
      if (signal?.aborted) throw abortError(signal, 'speech synthesis aborted');
      if (index > 0) chunks.push(silence);
      chunks.push(audio);
    }
    if (missing.size > 0) {
      this.#log?.debug({ missing: describeMissing(missing), voice: this.voicePath }, 'phonemes the voice has no id for were skipped');
    }

    const samples = concatInt16(...chunks);
    const audioMs = (samples.length / config.sampleRate) * 1000;
    this.#lastTiming = {
      phonemizeMs,
      inferMs,
      audioMs,
      realTimeFactor: audioMs > 0 ? inferMs / audioMs : 0,
      sentences: sentences.length,
    };
    this.#log?.debug(
      { chars: text.length, sentences: sentences.length, phonemizeMs: Math.round(phonemizeMs), inferMs: Math.round(inferMs), audioMs: Math.round(audioMs) },
      'piper synthesized',
    );
    return { samples, sampleRate: config.sampleRate };
  }

  async #infer({ session, config }: LoadedVoice, ids: readonly number[]): Promise<Int16Array> {
    const feeds: Record<string, ThreadTensor> = {
      input: { type: 'int64', data: BigInt64Array.from(ids, BigInt), dims: [1, ids.length] },
      input_lengths: { type: 'int64', data: BigInt64Array.of(BigInt(ids.length)), dims: [1] },
      scales: { type: 'float32', data: Float32Array.of(config.noiseScale, config.lengthScale / this.#rate, config.noiseW), dims: [3] },
    };
    if (config.numSpeakers > 1) feeds.sid = { type: 'int64', data: BigInt64Array.of(BigInt(this.#speakerId)), dims: [1] };
    const output = (await session.run(feeds)).output;
    if (!output || output.type !== 'float32') {
      throw new ModelFileError(
        'model-wrong-format',
        piperVoiceFiles(this.voicePath).modelPath,
        `the voice's model gave ${output ? output.type : 'no'} output where Piper voices give float32 audio`,
        downloadFix(this.voicePath),
      );
    }
    return toInt16(output.data as Float32Array);
  }

  async dispose(): Promise<void> {
    const voice = this.#voice;
    this.#voice = undefined;
    if (!voice) return;
    try {
      await (await voice).session.release();
    } catch {
      // A load that failed has nothing to release.
    }
  }
}

/**
 * As Piper does: scale by the sentence's peak (never by more than 100×) so every sentence fills the 16-bit range,
 * then clamp.
 */
export function toInt16(audio: Float32Array): Int16Array {
  let peak = 0.01;
  for (const value of audio) peak = Math.max(peak, Math.abs(value));
  const scale = MAX_WAV_VALUE / peak;
  const out = new Int16Array(audio.length);
  for (let i = 0; i < audio.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.trunc(audio[i]! * scale)));
  return out;
}

