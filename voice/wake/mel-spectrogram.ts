import fs from 'node:fs';
import FFT from 'fft.js';
import { decodeModel, intsOf, type Onnx } from '../onnx-graph.ts';

/**
 * openWakeWord's mel spectrogram, computed with an FFT instead of through its ONNX model. The model does a
 * short-time Fourier transform as two convolutions with a windowed DFT matrix (2 × 257 × 512 weights, 1 MB), then
 * power, a 257 → 32 mel matrix, 10·log10 and an 80 dB floor below the loudest value of the call. Every 80 ms
 * that megabyte was read from a cold cache, which cost more than the arithmetic. Here the window, the mel matrix
 * and the constants are read from the shipped model, the DFT is checked to be what it looks like, and the same
 * numbers come from an FFT and the mel filters' non-zero spans.
 *
 * Exact up to float rounding (float64 here against the model's float32): differences of ~1e-4 dB.
 */

const DFT_CHECK_TOLERANCE = 1e-4;

export interface MelConstants {
  readonly window: Float64Array;
  readonly hop: number;
  /** mel[bin][m] as [bins × mels], row-major. */
  readonly melMatrix: Float32Array;
  readonly bins: number;
  readonly mels: number;
  readonly floor: number;
  readonly scale: number;
  readonly offset: number;
  readonly topDb: number;
}

export class FftMelSpectrogram {
  readonly #fft: FFT;
  readonly #frame: Float64Array;
  readonly #spectrum: Float64Array;
  /** Each frame's values in dB, before the floor below the loudest: grown to the largest call. */
  #rows = new Float64Array(0);
  /** For each mel band, the first and last FFT bin its filter weighs above zero. */
  readonly #spans: { from: number; to: number }[];

  private constructor(private readonly c: MelConstants) {
    const size = c.window.length;
    this.#fft = new FFT(size);
    this.#frame = new Float64Array(size);
    this.#spectrum = new Float64Array(2 * size);
    this.#spans = Array.from({ length: c.mels }, (_, m) => {
      let from = c.bins;
      let to = -1;
      for (let k = 0; k < c.bins; k++) {
        if (c.melMatrix[k * c.mels + m] !== 0) {
          from = Math.min(from, k);
          to = k;
        }
      }
      return { from, to };
    });
  }

  /** From openWakeWord's melspectrogram.onnx; undefined when the file is not a model of that shape. */
  static fromModel(file: string): FftMelSpectrogram | undefined {
    const constants = readConstants(fs.readFileSync(file));
    return constants && new FftMelSpectrogram(constants);
  }

  /** How many frames `samples` samples give. */
  frameCount(samples: number): number {
    const { window, hop } = this.c;
    return samples >= window.length ? Math.floor((samples - window.length) / hop) + 1 : 0;
  }

  /**
   * The model's output for `samples` (one row of `mels` values per hop, as many frames as fit whole), written into
   * `out` (frames × mels, row-major, from its start; it must have room for frameCount(samples.length) rows).
   * Allocates nothing: this runs every 80 ms on the microphone.
   */
  framesInto(samples: ArrayLike<number>, out: Float32Array): Float32Array {
    const { window, hop, mels, melMatrix, floor, scale, offset, topDb } = this.c;
    const size = window.length;
    const count = this.frameCount(samples.length);
    if (this.#rows.length < count * mels) this.#rows = new Float64Array(count * mels);
    const rows = this.#rows;
    let loudest = -Infinity;
    for (let f = 0; f < count; f++) {
      for (let n = 0; n < size; n++) this.#frame[n] = samples[f * hop + n]! * window[n]!;
      this.#fft.realTransform(this.#spectrum, this.#frame);
      for (let m = 0; m < mels; m++) {
        const { from, to } = this.#spans[m]!;
        let energy = 0;
        for (let k = from; k <= to; k++) {
          const re = this.#spectrum[2 * k]!;
          const im = this.#spectrum[2 * k + 1]!;
          energy += (re * re + im * im) * melMatrix[k * mels + m]!;
        }
        const db = (scale * Math.log(Math.max(energy, floor))) - offset;
        rows[f * mels + m] = db;
        if (db > loudest) loudest = db;
      }
    }
    const lowest = loudest - topDb;
    for (let i = 0; i < count * mels; i++) out[i] = Math.max(rows[i]!, lowest);
    return out.subarray(0, count * mels);
  }
}

/** The STFT's window and hop, the mel matrix and the constants, after checking the graph is the one expected. */
function readConstants(bytes: Uint8Array): MelConstants | undefined {
  const graph = decodeModel(bytes).graph as Onnx.GraphProto | null | undefined;
  if (!graph) return undefined;
  const nodes = graph.node as Onnx.NodeProto[];
  const ops = nodes.filter((n) => n.opType !== 'Constant' && n.opType !== 'Unsqueeze' && n.opType !== 'Transpose' && n.opType !== 'Cast').map((n) => n.opType);
  const expected = ['Conv', 'Conv', 'Pow', 'Pow', 'Add', 'MatMul', 'Clip', 'Log', 'Mul', 'Div', 'Sub', 'ReduceMax', 'Sub', 'Clip'];
  if (ops.join() !== expected.join()) return undefined;

  const initializers = new Map((graph.initializer as Onnx.TensorProto[]).map((t) => [t.name, t]));
  const constants = new Map(nodes.filter((n) => n.opType === 'Constant').map((n) => [n.output[0]!, n.attribute[0]?.t]));
  const floats = (name: string | undefined) => {
    const tensor = (name !== undefined && (initializers.get(name) ?? constants.get(name))) || undefined;
    if (!tensor || tensor.dataType !== 1) return undefined;
    if (tensor.rawData && tensor.rawData.length > 0) return new Float32Array(Uint8Array.from(tensor.rawData).buffer);
    return tensor.floatData ? Float32Array.from(tensor.floatData) : undefined;
  };
  const scalar = (op: string, index = 0) => floats(nodes.filter((n) => n.opType === op)[index]?.input[1])?.[0];

  const [convReal, convImag] = nodes.filter((n) => n.opType === 'Conv');
  const real = floats(convReal!.input[1]);
  const imag = floats(convImag!.input[1]);
  const [size] = intsOf(convReal!, 'kernel_shape') ?? [];
  const [hop] = intsOf(convReal!, 'strides') ?? [];
  const matMul = nodes.find((n) => n.opType === 'MatMul')!;
  const melWeights = initializers.get(matMul.input[1]!);
  const melMatrix = floats(matMul.input[1]);
  const clip = nodes.find((n) => n.opType === 'Clip')!;
  const floor = floats(clip.input[1])?.[0];
  if (!real || !imag || !size || !hop || !melMatrix || !melWeights || floor === undefined) return undefined;
  const bins = Number(melWeights.dims[0]);
  const mels = Number(melWeights.dims[1]);
  if (bins !== size / 2 + 1 || real.length !== bins * size || imag.length !== bins * size) return undefined;
  if ([scalar('Pow'), scalar('Pow', 1)].some((p) => p !== 2)) return undefined;
  const multiply = scalar('Mul');
  const divide = scalar('Div');
  const offset = scalar('Sub');
  const topDb = scalar('Sub', 1);
  if (multiply === undefined || !divide || offset === undefined || topDb === undefined) return undefined;

  // Row 0 of the real part is the window itself (cos 0 = 1); every row must be the window times cos/sin.
  const window = Float64Array.from(real.subarray(0, size));
  for (let k = 0; k < bins; k++) {
    for (let n = 0; n < size; n++) {
      const angle = (2 * Math.PI * ((k * n) % size)) / size;
      if (Math.abs(real[k * size + n]! - window[n]! * Math.cos(angle)) > DFT_CHECK_TOLERANCE) return undefined;
      if (Math.abs(Math.abs(imag[k * size + n]!) - Math.abs(window[n]! * Math.sin(angle))) > DFT_CHECK_TOLERANCE) return undefined;
    }
  }
  return { window, hop, melMatrix, bins, mels, floor, scale: multiply / divide, offset, topDb };
}
