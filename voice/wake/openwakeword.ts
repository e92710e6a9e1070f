import '../onnx-telemetry-off.ts';
import path from 'node:path';
import { shippedModels } from '../shipped.ts';
import ort from 'onnxruntime-node';
import { openOnnxSession, requireIo } from '../onnx.ts';
import { FrameSplitter } from '../pcm.ts';
import type { WakeDetection, WakeWordDetector } from '../ports.ts';
import { FftMelSpectrogram } from './mel-spectrogram.ts';
import { openStreamingEmbedding, planStream, type EmbeddingStream } from './streaming-embedding.ts';

/**
 * openWakeWord on onnxruntime-node, following the reference Python implementation (openwakeword/utils.py
 * AudioFeatures and model.py predict) step for step, because its classifiers were trained on exactly those
 * features:
 *   every 1280 new samples (80 ms): mel spectrogram of those samples plus the 480 before them, scaled x/10+2;
 *   one embedding of the last 76 mel frames; the classifier on the last N embeddings (N = 16 for hey_jarvis).
 * The embedding, most of the cost, is computed as a stream (streaming-embedding.ts): the same numbers, without
 * redoing the 68 frames each window shares with the last; the mel spectrogram with an FFT (mel-spectrogram.ts).
 * The mel buffer starts as ones and the embedding buffer as the embeddings of 4 s of low-level noise; the first
 * five scores after a start or reset are forced to zero, as in the reference.
 *
 * Steady input costs nothing: the three models are pure functions of their windows, so while the audio repeats
 * itself step after step (digital silence: a muted microphone, a silent stream), a model whose whole window is
 * made of repeats of what it saw last step is not run again and its last output stands. Exact, not a gate: any
 * change in the audio runs every model as usual.
 *
 * A step allocates (almost) nothing: this runs 12.5 times a second for as long as the daemon listens, and while
 * people talk its per-step garbage (a typed array per mel frame, the windows copied out of arrays of frames,
 * numbers boxed by typed-array map/from) was most of what the daemon's garbage collector did. The reference keeps
 * 10 s of mel frames and 120 embeddings; only the last 76 frames and the classifier's last N embeddings are ever
 * read, so those are kept, each in one flat buffer shifted in place, the same numbers in the same order.
 */

const STEP_SAMPLES = 1280;
const MEL_OVERLAP_SAMPLES = 480;
const MEL_WINDOW_FRAMES = 76;
const MEL_STRIDE_FRAMES = 8;
const MEL_BINS = 32;
const EMBEDDING_SIZE = 96;
const WARMUP_SCORES = 5;
const MAX_EMBEDDINGS = 120;
/** Identical steps after which the embedding's 76-frame window equals the last one (it shifts by whole steps). */
const STEPS_FOR_SAME_MEL_WINDOW = Math.ceil((MEL_WINDOW_FRAMES + MEL_STRIDE_FRAMES) / MEL_STRIDE_FRAMES);

export interface OpenWakeWordOptions {
  /** Classifier model; defaults to "hey jarvis" from the npm package. */
  modelPath?: string;
  threshold: number;
  /** Reuse the models' outputs while the audio repeats itself (default true; false runs them every step). */
  reuseRepeats?: boolean;
  /** Compute each embedding from the last one's shared work (default true; false runs the whole model). */
  streamEmbedding?: boolean;
  /** The mel spectrogram with an FFT (default true; false runs its ONNX model). */
  fftMel?: boolean;
}

export class OpenWakeWordDetector implements WakeWordDetector {
  readonly engine = 'openwakeword';
  readonly keyword: string;
  readonly #steps = new FrameSplitter(STEP_SAMPLES);
  /** The mel spectrogram's input (a step's samples after the 480 before them): the last step's, and a spare. */
  #melInput = new Int16Array(MEL_OVERLAP_SAMPLES + STEP_SAMPLES);
  #spareMelInput = new Int16Array(MEL_OVERLAP_SAMPLES + STEP_SAMPLES);
  /** The last 76 mel frames, oldest first (frames × bins), as the embedding takes them. */
  readonly #melWindow = new Float32Array(MEL_WINDOW_FRAMES * MEL_BINS);
  /** The classifier's input: the last embeddings, oldest first (zeros after them while there are fewer). */
  readonly #classifierInput: Float32Array;
  readonly #classifierFeeds: Record<string, ort.Tensor>;
  /** Embeddings the classifier's input holds at most, and holds now. */
  readonly #maxEmbeddingRows: number;
  #embeddingRows = 0;
  readonly #lastEmbedding = new Float32Array(EMBEDDING_SIZE);
  #scoresSinceReset = 0;
  #peak = 0;
  #disposed = false;
  /** Whether a step was taken since the reset, the last step's mel frames, and for how many steps in a row the input was the same. */
  #hasMelInput = false;
  #lastMelFrames = new Float32Array(0);
  #lastMelFrameCount = 0;
  #sameInputSteps = 0;
  /** For how many steps in a row the embedding was the same, and the last classifier score. */
  #sameEmbeddingSteps = 0;
  #lastScore = 0;

  private constructor(
    private readonly mel: MelFrontEnd,
    private readonly embedding: EmbeddingStream,
    private readonly classifier: ort.InferenceSession,
    private readonly classifierFrames: number,
    private readonly initialEmbeddings: Float32Array[],
    private readonly threshold: number,
    modelPath: string,
    private readonly reuseRepeats: boolean,
  ) {
    this.keyword = path.basename(modelPath, '.onnx').replace(/_v[\d.]+$/, '').replace(/_/g, ' ');
    // The reference keeps 120 embeddings and gives the classifier the last N of them.
    this.#maxEmbeddingRows = Math.min(classifierFrames, MAX_EMBEDDINGS);
    this.#classifierInput = new Float32Array(classifierFrames * EMBEDDING_SIZE);
    // Run after run on the same buffer, which each step updates before the run.
    this.#classifierFeeds = { [classifier.inputNames[0]!]: new ort.Tensor('float32', this.#classifierInput, [1, classifierFrames, EMBEDDING_SIZE]) };
    this.reset();
  }

  static async create(options: OpenWakeWordOptions): Promise<OpenWakeWordDetector> {
    const modelPath = options.modelPath ?? shippedModels.heyJarvis;
    const reinstall = 'Reinstall the npm dependencies (`npm install`), which ship the openWakeWord models.';
    // The FFT and the stream are derived from the shipped files; a file they cannot use (missing, damaged, of
    // another shape) is opened as the plain model instead, which reports what is wrong with it.
    const fft = options.fftMel === false ? undefined : derived(() => FftMelSpectrogram.fromModel(shippedModels.melspectrogram));
    const plan = options.streamEmbedding === false ? undefined : derived(() => planStream(shippedModels.wakeEmbedding, MEL_WINDOW_FRAMES, MEL_BINS, MEL_STRIDE_FRAMES));
    const [mel, embeddings, classifier] = await Promise.all([
      fft
        ? new FftMel(fft)
        : openOnnxSession(shippedModels.melspectrogram, 'openWakeWord mel spectrogram', reinstall).then((session) => {
            requireIo(session, shippedModels.melspectrogram, ['input'], ['output']);
            return new OnnxMel(session);
          }),
      plan
        ? openStreamingEmbedding(plan)
        : openOnnxSession(shippedModels.wakeEmbedding, 'openWakeWord embedding', reinstall).then((session) => {
            requireIo(session, shippedModels.wakeEmbedding, ['input_1'], ['conv2d_19']);
            return new WholeWindowEmbedding(session);
          }),
      openOnnxSession(modelPath, 'wake word', options.modelPath ? 'Check wake.model.' : reinstall),
    ]);
    const classifierFrames = classifierInputFrames(classifier);
    const initial = await initialEmbeddings(mel, embeddings);
    return new OpenWakeWordDetector(mel, embeddings, classifier, classifierFrames, initial, options.threshold, modelPath, options.reuseRepeats ?? true);
  }

  async process(samples: Int16Array): Promise<WakeDetection[]> {
    if (this.#disposed) throw new Error('wake word detector used after dispose()');
    const detections: WakeDetection[] = [];
    for (const step of this.#steps.push(samples)) {
      const score = await this.#scoreStep(step);
      if (score > this.#peak) this.#peak = score;
      if (score >= this.threshold) detections.push({ keyword: this.keyword, score });
    }
    return detections;
  }

  takePeakScore(): number {
    const peak = this.#peak;
    this.#peak = 0;
    return peak;
  }

  reset(): void {
    this.#steps.clear();
    // The samples before the first step are zeros.
    this.#melInput.fill(0);
    this.#hasMelInput = false;
    this.#melWindow.fill(1);
    const initial = this.initialEmbeddings.slice(-this.#maxEmbeddingRows);
    this.#classifierInput.fill(0);
    initial.forEach((embedding, i) => this.#classifierInput.set(embedding, i * EMBEDDING_SIZE));
    this.#embeddingRows = initial.length;
    this.#lastEmbedding.set(this.initialEmbeddings.at(-1)!);
    this.#scoresSinceReset = 0;
    this.#sameInputSteps = 0;
    this.#sameEmbeddingSteps = 0;
    this.embedding.forget();
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all([this.mel.release(), this.embedding.release(), this.classifier.release()]);
  }

  async #scoreStep(step: Int16Array): Promise<number> {
    // This step's input: the last 480 samples of the last one's, then the step (always STEP_SAMPLES long).
    const melInput = this.#spareMelInput;
    const lastInput = this.#melInput;
    melInput.set(lastInput.subarray(lastInput.length - MEL_OVERLAP_SAMPLES));
    melInput.set(step, MEL_OVERLAP_SAMPLES);
    this.#melInput = melInput;
    this.#spareMelInput = lastInput;
    const sameInput = this.reuseRepeats && this.#hasMelInput && sameSamples(melInput, lastInput);
    this.#hasMelInput = true;
    this.#sameInputSteps = sameInput ? this.#sameInputSteps + 1 : 0;
    if (!sameInput) {
      const frames = await this.mel.frames(melInput);
      if (this.#lastMelFrames.length < frames.length) this.#lastMelFrames = new Float32Array(frames.length);
      this.#lastMelFrames.set(frames);
      this.#lastMelFrameCount = frames.length / MEL_BINS;
    }
    const count = this.#lastMelFrameCount;
    const fresh = Math.min(count, MEL_WINDOW_FRAMES);
    this.#melWindow.copyWithin(0, fresh * MEL_BINS);
    this.#melWindow.set(this.#lastMelFrames.subarray((count - fresh) * MEL_BINS, count * MEL_BINS), (MEL_WINDOW_FRAMES - fresh) * MEL_BINS);

    const sameMelWindow = this.#sameInputSteps >= STEPS_FOR_SAME_MEL_WINDOW;
    if (sameMelWindow) this.embedding.forget(); // the stream skips this step, so the next is not continuous
    else this.#lastEmbedding.set(await this.embedding.embed(this.#melWindow, count));
    this.#pushEmbedding(this.#lastEmbedding);
    this.#sameEmbeddingSteps = sameMelWindow ? this.#sameEmbeddingSteps + 1 : 0;

    // Its whole window is the one embedding repeated, as it was last step: the score is the last one.
    if (this.#sameEmbeddingSteps < this.classifierFrames) {
      const output = await this.classifier.run(this.#classifierFeeds);
      this.#lastScore = (output[this.classifier.outputNames[0]!]!.data as Float32Array)[0]!;
    }
    this.#scoresSinceReset++;
    return this.#scoresSinceReset <= WARMUP_SCORES ? 0 : this.#lastScore;
  }

  /** Appends `embedding` to the classifier's input, dropping the oldest when it is full. */
  #pushEmbedding(embedding: Float32Array): void {
    const input = this.#classifierInput;
    if (this.#embeddingRows < this.#maxEmbeddingRows) {
      input.set(embedding, this.#embeddingRows++ * EMBEDDING_SIZE);
      return;
    }
    const end = this.#maxEmbeddingRows * EMBEDDING_SIZE;
    input.copyWithin(0, EMBEDDING_SIZE, end);
    input.set(embedding, end - EMBEDDING_SIZE);
  }
}

/** What `make` derives from a shipped file, or undefined when the file does not lend itself to it. */
function derived<T>(make: () => T | undefined): T | undefined {
  try {
    return make();
  } catch {
    return undefined;
  }
}

function sameSamples(a: Int16Array, b: Int16Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The mel frames of some samples, scaled as the embedding model takes them (x / 10 + 2, as the reference). */
interface MelFrontEnd {
  /** Frames × bins, oldest first; valid until the next call. */
  frames(samples: Int16Array): Promise<Float32Array>;
  release(): Promise<void>;
}

/** In place, element by element as the reference's float32 arithmetic does it. */
function scaleForEmbedding(frames: Float32Array): Float32Array {
  for (let i = 0; i < frames.length; i++) frames[i] = frames[i]! / 10 + 2;
  return frames;
}

class FftMel implements MelFrontEnd {
  #out = new Float32Array(0);

  constructor(private readonly spectrogram: FftMelSpectrogram) {}

  async frames(samples: Int16Array): Promise<Float32Array> {
    const size = this.spectrogram.frameCount(samples.length) * MEL_BINS;
    if (this.#out.length < size) this.#out = new Float32Array(size);
    return scaleForEmbedding(this.spectrogram.framesInto(samples, this.#out));
  }

  async release(): Promise<void> {}
}

class OnnxMel implements MelFrontEnd {
  constructor(private readonly model: ort.InferenceSession) {}

  async frames(samples: Int16Array): Promise<Float32Array> {
    const input = Float32Array.from(samples);
    const output = await this.model.run({ input: new ort.Tensor('float32', input, [1, input.length]) });
    const data = output.output!.data as Float32Array;
    return scaleForEmbedding(data.slice(0, Math.floor(data.length / MEL_BINS) * MEL_BINS));
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

/** The whole model on each window: for embedding models whose graph the stream does not handle. */
class WholeWindowEmbedding implements EmbeddingStream {
  constructor(private readonly model: ort.InferenceSession) {}

  async embed(window: Float32Array): Promise<Float32Array> {
    const input = new Float32Array(MEL_WINDOW_FRAMES * MEL_BINS);
    input.set(window.subarray(Math.max(0, window.length - input.length)));
    const output = await this.model.run({ input_1: new ort.Tensor('float32', input, [1, MEL_WINDOW_FRAMES, MEL_BINS, 1]) });
    return Float32Array.from(output.conv2d_19!.data as Float32Array);
  }

  forget(): void {}

  release(): Promise<void> {
    return this.model.release();
  }
}

/** The reference seeds the embedding buffer with the features of 4 s of random noise in [-1000, 1000). */
async function initialEmbeddings(mel: MelFrontEnd, embedding: EmbeddingStream): Promise<Float32Array[]> {
  let seed = 0x2545f491;
  const noise = new Int16Array(16_000 * 4);
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0; // deterministic, so runs are repeatable
    noise[i] = (seed % 2000) - 1000;
  }
  const frames = (await mel.frames(noise)).slice();
  const embeddings: Float32Array[] = [];
  for (let end = MEL_WINDOW_FRAMES; end * MEL_BINS <= frames.length; end += MEL_STRIDE_FRAMES) {
    const window = frames.slice((end - MEL_WINDOW_FRAMES) * MEL_BINS, end * MEL_BINS);
    embeddings.push(await embedding.embed(window, end === MEL_WINDOW_FRAMES ? end : MEL_STRIDE_FRAMES));
  }
  embedding.forget();
  return embeddings;
}

function classifierInputFrames(classifier: ort.InferenceSession): number {
  const meta = (classifier as unknown as { inputMetadata?: { shape?: (number | string)[] }[] }).inputMetadata?.[0];
  const frames = meta?.shape?.[1];
  return typeof frames === 'number' && frames > 0 ? frames : 16;
}

