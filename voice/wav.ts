import fs from 'node:fs/promises';
import wavefile from 'wavefile';
import { AudioFormatError } from '../base/errors.ts';
import { CAPTURE_SAMPLE_RATE, type PcmAudio } from './ports.ts';

const { WaveFile } = wavefile;

/** WAVE format tags wavefile can decode to samples. */
const DECODABLE_FORMATS: Record<number, string> = {
  1: 'integer PCM',
  3: 'IEEE float',
  6: 'A-law',
  7: 'mu-law',
  65534: 'extensible',
};

const CONVERT_HINT = 'Convert it first, e.g. `sox input.wav -r 16000 -c 1 -b 16 output.wav` or `ffmpeg -i input -ar 16000 -ac 1 output.wav`.';

/**
 * Reads any WAV that can be turned into speech-model input (integer or float PCM of any common depth, A-law,
 * mu-law; any channel count and rate) and returns mono 16-bit PCM at `targetRate`. Anything else
 * is refused with what it is and how to convert it.
 */
export function decodeWav(bytes: Uint8Array, name = 'input', targetRate = CAPTURE_SAMPLE_RATE): Int16Array {
  const wav = new WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (error) {
    throw new AudioFormatError(`${name} is not a readable WAV file (${(error as Error).message})`, CONVERT_HINT);
  }
  // Copied: wavefile rewrites its fmt object while converting.
  const fmt = { ...(wav.fmt as { audioFormat: number; numChannels: number; sampleRate: number; bitsPerSample: number }) };
  const formatName = DECODABLE_FORMATS[fmt.audioFormat];
  if (!formatName) {
    throw new AudioFormatError(
      `${name} uses WAVE format tag ${fmt.audioFormat} (a compressed codec), which cannot be decoded here`,
      CONVERT_HINT,
    );
  }
  if (fmt.numChannels < 1 || fmt.sampleRate < 4000 || fmt.sampleRate > 384_000) {
    throw new AudioFormatError(
      `${name} has ${fmt.numChannels} channel(s) at ${fmt.sampleRate} Hz, which is not usable audio`,
      CONVERT_HINT,
    );
  }
  try {
    if (fmt.audioFormat === 6) wav.fromALaw();
    else if (fmt.audioFormat === 7) wav.fromMuLaw();
    if (wav.bitDepth !== '32f') wav.toBitDepth('32f');
  } catch (error) {
    throw new AudioFormatError(`${name}: ${formatName} ${fmt.bitsPerSample}-bit audio could not be decoded (${(error as Error).message})`, CONVERT_HINT);
  }

  const mono = downmix(wav.getSamples(false, Float64Array) as unknown as Float64Array | Float64Array[]);
  const resampled = fmt.sampleRate === targetRate ? mono : resampleFloat(mono, fmt.sampleRate, targetRate);
  return floatToInt16(resampled);
}

export async function readWavFile(file: string, targetRate = CAPTURE_SAMPLE_RATE): Promise<Int16Array> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    throw new AudioFormatError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'Check the path.');
  }
  return decodeWav(bytes, file, targetRate);
}

/** 16-bit mono WAV bytes for `audio`. */
export function encodeWav(audio: PcmAudio): Uint8Array {
  const wav = new WaveFile();
  wav.fromScratch(1, audio.sampleRate, '16', audio.samples);
  return wav.toBuffer();
}

export async function writeWavFile(file: string, audio: PcmAudio): Promise<void> {
  await fs.writeFile(file, encodeWav(audio));
}

function downmix(channels: Float64Array | Float64Array[]): Float64Array {
  if (!Array.isArray(channels)) return channels;
  if (channels.length === 1) return channels[0]!;
  const length = channels[0]!.length;
  const out = new Float64Array(length);
  for (const channel of channels) for (let i = 0; i < length; i++) out[i]! += channel[i]! / channels.length;
  return out;
}

/**
 * Band-limited resampling (windowed sinc, Hann window, cutoff at the lower Nyquist): good enough for speech
 * models, and free of the aliasing that linear interpolation leaves when downsampling 44.1/48 kHz to 16 kHz.
 * Input and output are float samples in the int16 range or in [-1, 1]; scale is preserved.
 *
 * The filter's weights depend only on where an output sample falls between input samples, and for the rates
 * audio uses (22 050 → 16 000: 320 positions) they repeat: they are computed once per pair of rates and kept,
 * instead of two transcendental functions per tap per sample (a 5 s answer took ~40 ms, all on the event loop
 * that also hears "stop"). Samples near the ends, where the filter runs off the input, are computed directly.
 */
export function resampleFloat(input: ArrayLike<number>, fromRate: number, toRate: number): Float64Array {
  if (fromRate === toRate) return Float64Array.from(input);
  const ratio = toRate / fromRate;
  const outLength = Math.floor(input.length * ratio);
  const out = new Float64Array(outLength);
  const filter = sincFilter(fromRate, toRate);
  const table = filter.period === undefined ? undefined : polyphaseTable(fromRate, toRate, filter, filter.period);
  for (let i = 0; i < outLength; i++) {
    const center = i / ratio;
    const first = Math.ceil(center - filter.halfWidth);
    if (table && first >= 0 && first + table.taps <= input.length) {
      // Output i sits where output i mod period does, whole input samples further on.
      const at = (i % table.period) * table.taps;
      let sum = 0;
      for (let k = 0; k < table.taps; k++) sum += input[first + k]! * table.weights[at + k]!;
      out[i] = sum;
    } else {
      out[i] = filteredAt(input, center, filter);
    }
  }
  return out;
}

interface SincFilter {
  readonly cutoff: number;
  /** Taps each side, in input samples. */
  readonly halfWidth: number;
  /** Output samples after which their positions between input samples repeat (toRate / gcd), when few enough to tabulate. */
  readonly period: number | undefined;
}

const MAX_PHASES = 4096;

function sincFilter(fromRate: number, toRate: number): SincFilter {
  const cutoff = Math.min(1, toRate / fromRate); // relative to the input Nyquist
  const g = gcd(fromRate, toRate);
  const period = Number.isInteger(fromRate) && Number.isInteger(toRate) && toRate / g <= MAX_PHASES ? toRate / g : undefined;
  return { cutoff, halfWidth: Math.ceil(8 / cutoff), period };
}

/** The filter at `center` (in input samples), its weights normalised to sum to 1. */
function filteredAt(input: ArrayLike<number>, center: number, filter: SincFilter): number {
  const first = Math.max(0, Math.ceil(center - filter.halfWidth));
  const last = Math.min(input.length - 1, Math.floor(center + filter.halfWidth));
  let sum = 0;
  let weightSum = 0;
  for (let j = first; j <= last; j++) {
    const w = sincWeight(j - center, filter);
    sum += input[j]! * w;
    weightSum += w;
  }
  return weightSum === 0 ? 0 : sum / weightSum;
}

function sincWeight(x: number, { cutoff, halfWidth }: SincFilter): number {
  const sincArg = Math.PI * x * cutoff;
  const sinc = x === 0 ? 1 : Math.sin(sincArg) / sincArg;
  return sinc * (0.5 + 0.5 * Math.cos((Math.PI * x) / (halfWidth + 1)));
}

interface PolyphaseTable {
  readonly period: number;
  /** Weights per position, the shorter ones padded with zeros. */
  readonly taps: number;
  /** By output position modulo the period, `taps` each: normalised weights from the first input sample covered. */
  readonly weights: Float64Array;
}

const polyphaseTables = new Map<string, PolyphaseTable>();

function polyphaseTable(fromRate: number, toRate: number, filter: SincFilter, period: number): PolyphaseTable {
  const key = `${fromRate}>${toRate}`;
  const cached = polyphaseTables.get(key);
  if (cached) return cached;
  const phases = Array.from({ length: period }, (_, p) => {
    // Output sample p of a period sits p·from/to input samples in; only its fractional part matters.
    const center = (p * fromRate) / toRate;
    const first = Math.ceil(center - filter.halfWidth);
    const last = Math.floor(center + filter.halfWidth);
    const weights = Float64Array.from({ length: last - first + 1 }, (_, k) => sincWeight(first + k - center, filter));
    const total = weights.reduce((a, b) => a + b, 0);
    return { weights: weights.map((w) => (total === 0 ? 0 : w / total)) };
  });
  const taps = Math.max(...phases.map((p) => p.weights.length));
  const weights = new Float64Array(period * taps);
  phases.forEach((p, i) => weights.set(p.weights, i * taps));
  const table = { period, taps, weights };
  polyphaseTables.set(key, table);
  return table;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Float samples in [-1, 1] to clipped int16. */
export function floatToInt16(samples: ArrayLike<number>): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]!));
    out[i] = Math.round(s < 0 ? s * 0x8000 : s * 0x7fff);
  }
  return out;
}

export function resampleInt16(audio: PcmAudio, toRate: number): PcmAudio {
  if (audio.sampleRate === toRate) return audio;
  const floats = Float64Array.from(audio.samples, (s) => s / 0x8000);
  return { samples: floatToInt16(resampleFloat(floats, audio.sampleRate, toRate)), sampleRate: toRate };
}

export function durationMs(audio: PcmAudio): number {
  return (audio.samples.length / audio.sampleRate) * 1000;
}
