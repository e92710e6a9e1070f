import { floatToInt16, resampleFloat } from '../../voice/wav.ts';
import { concatBytes } from '../../voice/pcm.ts';

/**
 * Wyoming audio is raw PCM in whatever format its audio-start says (rate in Hz, width in bytes, channels); the
 * engines here take mono 16-bit PCM at one rate. This turns one into the other, chunk by chunk, with the resampler
 * of voice/wav.ts.
 */

export interface AudioFormat {
  readonly rate: number;
  readonly width: number;
  readonly channels: number;
}

/** What Wyoming's audio events may say; anything else is refused with an `error` event. */
const RATES = { min: 4000, max: 192_000 };
const MAX_CHANNELS = 8;

/** The format an audio-start or audio-chunk names, or why it is not usable. */
export function readAudioFormat(data: Record<string, unknown>): AudioFormat | string {
  const { rate, width, channels } = data;
  if (!Number.isInteger(rate) || (rate as number) < RATES.min || (rate as number) > RATES.max) {
    return `rate ${JSON.stringify(rate)} is not a sample rate from ${RATES.min} to ${RATES.max} Hz`;
  }
  if (width !== 1 && width !== 2 && width !== 3 && width !== 4) return `width ${JSON.stringify(width)} is not 1, 2, 3 or 4 bytes per sample`;
  if (!Number.isInteger(channels) || (channels as number) < 1 || (channels as number) > MAX_CHANNELS) {
    return `channels ${JSON.stringify(channels)} is not from 1 to ${MAX_CHANNELS}`;
  }
  return { rate: rate as number, width, channels: channels as number };
}

export const sameFormat = (a: AudioFormat, b: AudioFormat) => a.rate === b.rate && a.width === b.width && a.channels === b.channels;

/**
 * Signed little-endian samples (as audioop reads every width), mixed down to mono floats in [-1, 1], scaled as
 * floatToInt16 scales back (negative by 2^(bits-1), positive by 2^(bits-1) - 1), so 16-bit audio comes out exact.
 */
export function pcmToMonoFloat(bytes: Uint8Array, format: AudioFormat): Float64Array {
  const { width, channels } = format;
  const frames = Math.floor(bytes.length / (width * channels));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const negative = 2 ** (8 * width - 1);
  const positive = negative - 1;
  const out = new Float64Array(frames);
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) {
      const at = (frame * channels + channel) * width;
      const value = width === 2 ? view.getInt16(at, true) : width === 4 ? view.getInt32(at, true) : width === 1 ? view.getInt8(at) : (view.getInt8(at + 2) << 16) | view.getUint16(at, true);
      sum += value / (value < 0 ? negative : positive);
    }
    out[frame] = sum / channels;
  }
  return out;
}

export function int16ToBytes(samples: Int16Array): Uint8Array {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

/**
 * One audio stream converted as it arrives: bytes in the stream's format in, mono int16 at `toRate` out. A frame
 * split between two chunks waits for its rest. The resampler needs samples on both sides of each output sample, so
 * the last few output samples of a chunk wait for the next one (or for end()); with that, the stream comes out as
 * the whole recording would have, not with a seam at every chunk.
 */
export class AudioStreamConverter {
  readonly #frameBytes: number;
  #partialFrame: Uint8Array = new Uint8Array(0);
  /** Input kept for the resampler, from input sample #base on; #base is a whole number of rate periods. */
  #input: Float64Array = new Float64Array(0);
  #base = 0;
  #nextOutput = 0;
  #inputSamples = 0;
  readonly #ratio: number;
  /** Input samples after which input and output positions line up again (fromRate / gcd). */
  readonly #period: number;
  /** Input samples each side of an output sample that the resampler's filter reaches (more than it needs). */
  readonly #margin: number;

  constructor(
    readonly format: AudioFormat,
    readonly toRate: number,
  ) {
    this.#frameBytes = format.width * format.channels;
    this.#ratio = toRate / format.rate;
    this.#period = format.rate / gcd(format.rate, toRate);
    this.#margin = Math.ceil(16 / Math.min(1, this.#ratio));
  }

  /** Input audio received so far, in seconds. */
  get seconds(): number {
    return this.#inputSamples / this.format.rate;
  }

  push(bytes: Uint8Array): Int16Array {
    const all = concatBytes(this.#partialFrame, bytes);
    const whole = all.length - (all.length % this.#frameBytes);
    this.#partialFrame = all.slice(whole);
    const mono = pcmToMonoFloat(all.subarray(0, whole), this.format);
    this.#inputSamples += mono.length;
    if (this.#ratio === 1) return floatToInt16(mono);
    this.#input = concatFloat(this.#input, mono);
    const end = this.#base + this.#input.length;
    // Output sample i sits at input position i / ratio; it is ready when the filter's reach past it has arrived.
    return this.#emitUpTo(Math.max(this.#nextOutput, Math.floor((end - this.#margin) * this.#ratio) + 1));
  }

  /** The rest, at the end of the stream. */
  end(): Int16Array {
    if (this.#ratio === 1) return new Int16Array(0);
    return this.#emitUpTo(Math.floor(this.#inputSamples * this.#ratio));
  }

  #emitUpTo(upTo: number): Int16Array {
    if (upTo <= this.#nextOutput) return new Int16Array(0);
    const resampled = resampleFloat(this.#input, this.format.rate, this.toRate);
    const first = Math.round(this.#base * this.#ratio); // whole: #base is a multiple of the period
    const out = floatToInt16(resampled.subarray(this.#nextOutput - first, upTo - first));
    this.#nextOutput = upTo;
    // Keep what the next outputs' filters reach back to, from a period boundary so positions still line up.
    const needed = Math.max(0, upTo / this.#ratio - this.#margin);
    const base = Math.floor(needed / this.#period) * this.#period;
    if (base > this.#base) {
      this.#input = this.#input.slice(base - this.#base);
      this.#base = base;
    }
    return out;
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function concatFloat(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length === 0) return b;
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
