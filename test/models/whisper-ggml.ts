import path from 'node:path';
import {
  GGML_FILE_MAGIC,
  HPARAM_ORDER,
  WHISPER_AUDIO_CTX,
  WHISPER_N_FFT_BINS,
  whisperTensorSpecs,
  type WhisperHparams,
  type WhisperTensorSpec,
} from '../../voice/stt/whisper-model-file.ts';
import { ByteWriter } from '../../models/byte-writer.ts';
import { cachedModel, TEST_MODELS_DIR } from './cache.ts';
import { seededRandom } from './random.ts';

/**
 * A real whisper.cpp model file (the legacy ggml layout whisper_model_load reads: magic, hparams, mel filters,
 * vocabulary, named tensors) with tiny dimensions and seeded random weights, so tests run the real whisper.cpp
 * runtime without any downloadable Whisper weights (none are reachable here). It does not recognise anything: it
 * says TINY_WHISPER_TEXT once per 30 s window. Loading, mel computation, the 30 s encoder pass, decoding, aborting
 * and timing are the real code paths.
 *
 * The tensor list comes from voice/stt/whisper-model-file.ts; the independent check that both follow whisper.cpp is that
 * whisper.cpp itself loads this file and transcribes with it.
 *
 * A fully random decoder never reaches whisper.cpp's confidence thresholds (average log-probability -1, entropy
 * 2.4), so every call would run the whole temperature fallback (6 temperatures × 5 sampled decoders × 220 tokens,
 * seconds of CPU) and loop on repeated words. So the decoder, random elsewhere, has four MLP units that make it a
 * fixed chain: <|startoftranscript|> → <|0.00|> → one text token (TINY_WHISPER_TEXT) → <|30.00|> → <|endoftext|>.
 * whisper.cpp's timestamp rules accept that chain, so each 30 s window decodes in four confident steps and the
 * next window starts 30 s later. The encoder runs unchanged on the real mel spectrogram of the audio.
 */

export interface TinyWhisperOptions {
  /** Encoder and decoder width. */
  readonly state?: number;
  /** Encoder and decoder blocks (1; ggml-base.en.bin has 6). */
  readonly layers?: number;
  /** Attention heads (1; ggml-base.en.bin has 8). */
  readonly heads?: number;
  /** 0 all f32, 1 f16 (like ggml-base.en.bin), 7 q8_0 (like ggml-base.en-q8_0.bin). */
  readonly ftype?: 0 | 1 | 7;
  readonly seed?: number;
}

/** Bump when the bytes written for the same options change, so stale cached files are not reused. */
const WRITER_VERSION = 1;

/** English-only ("*.en") models: 50256 byte-level BPE tokens in the file, the specials added by whisper.cpp. */
const N_VOCAB = 51864;
const FILE_TOKENS = 50256;
const N_MELS = 80;
const N_TEXT_CTX = 448;

/** What every 30 s window decodes to (one token of the vocabulary). */
export const TINY_WHISPER_TEXT = 'test-made model';
const TEXT_TOKEN = 1000;
const TOKEN_EOT = 50256;
const TOKEN_SOT = 50257;
const TOKEN_BEG = 50363; // <|0.00|>
const TOKEN_END_TS = TOKEN_BEG + 1500; // <|30.00|>, the last id
/** Each token of the chain and the one the decoder must answer after it. */
const CHAIN = [
  [TOKEN_SOT, TOKEN_BEG],
  [TOKEN_BEG, TEXT_TOKEN],
  [TEXT_TOKEN, TOKEN_END_TS],
  [TOKEN_END_TS, TOKEN_EOT],
] as const;
const CHAIN_TOKENS = [TOKEN_SOT, TOKEN_BEG, TEXT_TOKEN, TOKEN_END_TS, TOKEN_EOT] as const;

/**
 * The shape of ggml-base.en.bin, the default Whisper model (random weights; the file is 148 MB in f16, 82 MB in
 * q8_0): for measuring speed, where the 1-layer, 64-wide default hides what a real model costs.
 */
export const BASE_EN_SHAPE = { state: 512, layers: 6, heads: 8 } as const;

/** Writes the model once under .cache/test-models and returns its path. */
export async function ensureTinyWhisperModel(options: TinyWhisperOptions = {}): Promise<string> {
  const { state = 64, layers = 1, heads = 1, ftype = 7, seed = 1 } = options;
  const shape = layers === 1 && heads === 1 ? '' : `-l${layers}-h${heads}`;
  const file = path.join(TEST_MODELS_DIR, `tiny-whisper-en-s${state}${shape}-f${ftype}-seed${seed}-v${WRITER_VERSION}.bin`);
  return cachedModel(file, () => buildTinyWhisperModel({ state, layers, heads, ftype, seed }));
}

export function buildTinyWhisperModel(options: TinyWhisperOptions = {}): Buffer {
  const { state = 64, layers = 1, heads = 1, ftype = 7, seed = 1 } = options;
  const hparams: WhisperHparams = {
    nVocab: N_VOCAB,
    nAudioCtx: WHISPER_AUDIO_CTX,
    nAudioState: state,
    nAudioHead: heads,
    nAudioLayer: layers,
    nTextCtx: N_TEXT_CTX,
    nTextState: state,
    nTextHead: heads,
    nTextLayer: layers,
    nMels: N_MELS,
    // Like whisper.cpp's quantize tool: quantized files carry GGML_QNT_VERSION (2) in the thousands.
    ftype: ftype === 7 ? 2000 + ftype : ftype,
  };
  const random = seededRandom(seed);
  const out = new ByteWriter();

  out.u32(GGML_FILE_MAGIC);
  for (const key of HPARAM_ORDER) out.i32(hparams[key]);

  out.i32(N_MELS);
  out.i32(WHISPER_N_FFT_BINS);
  out.f32s(slaneyMelFilters(N_MELS, WHISPER_N_FFT_BINS, 16_000));

  const directions = chainDirections(state, random);
  const tokens = vocabulary(random);
  out.i32(tokens.length);
  for (const token of tokens) {
    const bytes = Buffer.from(token, 'latin1');
    out.u32(bytes.length);
    out.bytes(bytes);
  }

  for (const spec of whisperTensorSpecs(hparams)) {
    const name = Buffer.from(spec.name, 'latin1');
    out.i32(spec.ne.length);
    out.i32(name.length);
    out.i32(spec.type);
    for (const n of spec.ne) out.i32(n);
    out.bytes(name);
    writeTensor(out, spec.type, values(spec, random, directions));
  }
  return out.toBuffer();
}

/** Norm of a chain token's embedding row: large next to the random rows (norm ≈ 0.23), and to attention output. */
const CHAIN_ROW_NORM = 8;
const DETECTOR_THRESHOLD = 4;
const DETECTOR_GAIN = 10;

function values(spec: WhisperTensorSpec, random: () => number, directions: Map<number, Float32Array>): Float32Array {
  const count = spec.ne.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  const [width = 1, length = 1] = spec.ne;
  if (spec.name === 'encoder.positional_embedding') return sinusoids(length, width);
  if (/ln(_post)?\.weight$|_ln\.weight$/.test(spec.name)) return data.fill(1);
  if (spec.name.endsWith('.bias')) {
    // Hidden units 0..3 of the decoder MLP only fire on their chain token (see below).
    if (spec.name === 'decoder.blocks.0.mlp.0.bias') data.fill(-DETECTOR_THRESHOLD, 0, CHAIN.length);
    return data; // otherwise zero, as a freshly initialised layer
  }
  // Uniform with variance 1/fan-in, so activations keep their scale through the random layers.
  const fanIn = spec.name.includes('conv') ? spec.ne[0]! * spec.ne[1]! : width;
  let scale = Math.sqrt(3 / fanIn);
  if (spec.name === 'decoder.token_embedding.weight') scale = 0.05;
  if (spec.name === 'decoder.positional_embedding') scale = 0.01;
  // Quiet attention, so the residual stream still says which token came in when it reaches the MLP.
  if (/^decoder\.blocks\.0\.(cross_)?attn\.out\.weight$/.test(spec.name)) scale *= 0.1;
  // Decoder blocks after the first (models with more layers) write quietly too, so the chain survives them.
  if (/^decoder\.blocks\.[1-9]\d*\.((cross_)?attn\.out|mlp\.2)\.weight$/.test(spec.name)) scale *= 0.1;
  for (let i = 0; i < count; i++) data[i] = (random() * 2 - 1) * scale;

  if (spec.name === 'decoder.token_embedding.weight') {
    // Tied embedding: the same row is what a chain token looks like coming in and what the logits measure going out.
    for (const token of CHAIN_TOKENS) data.set(directions.get(token)!.map((v) => v * CHAIN_ROW_NORM), token * width);
  }
  if (spec.name === 'decoder.blocks.0.mlp.0.weight') {
    // Unit j sees the layer-normed residual (norm 8); its dot with the chain direction is ≈ 8 for that token, ≈ ±1 else.
    CHAIN.forEach(([from], j) => data.set(directions.get(from)!, j * width));
  }
  if (spec.name === 'decoder.blocks.0.mlp.2.weight') {
    // Unit j writes the direction of the token that must follow, ~40 strong, which the final layer norm then carries.
    const hidden = width; // ne = [4n, n]: row i (output dim) holds one weight per hidden unit
    CHAIN.forEach(([, to], j) => {
      const direction = directions.get(to)!;
      for (let i = 0; i < length; i++) data[i * hidden + j] = DETECTOR_GAIN * direction[i]!;
    });
  }
  return data;
}

/** Orthonormal, zero-mean directions (layer norm subtracts the mean, so only zero-mean ones survive it intact). */
function chainDirections(size: number, random: () => number): Map<number, Float32Array> {
  const basis: Float32Array[] = [];
  for (let k = 0; k < CHAIN_TOKENS.length; k++) {
    const v = Float32Array.from({ length: size }, () => random() * 2 - 1);
    const mean = v.reduce((a, b) => a + b, 0) / size;
    for (let i = 0; i < size; i++) v[i]! -= mean;
    for (const b of basis) {
      const dot = v.reduce((a, x, i) => a + x * b[i]!, 0);
      for (let i = 0; i < size; i++) v[i]! -= dot * b[i]!;
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((x) => x / norm));
  }
  return new Map(CHAIN_TOKENS.map((token, k) => [token, basis[k]!]));
}

/** Whisper's encoder position embedding (openai/whisper model.py `sinusoids`), stored [length][channels]. */
function sinusoids(length: number, channels: number): Float32Array {
  const half = channels / 2;
  const increment = Math.log(10_000) / (half - 1);
  const data = new Float32Array(length * channels);
  for (let t = 0; t < length; t++) {
    for (let c = 0; c < half; c++) {
      const angle = t * Math.exp(-increment * c);
      data[t * channels + c] = Math.sin(angle);
      data[t * channels + half + c] = Math.cos(angle);
    }
  }
  return data;
}

/** librosa.filters.mel(sr, n_fft=400, n_mels) with Slaney scale and norm, which is what Whisper's mel_filters.npz holds. */
function slaneyMelFilters(nMels: number, nFftBins: number, sampleRate: number): Float32Array {
  const hzToMel = (f: number) => (f < 1000 ? (3 * f) / 200 : 15 + Math.log(f / 1000) / (Math.log(6.4) / 27));
  const melToHz = (m: number) => (m < 15 ? (200 * m) / 3 : 1000 * Math.exp((Math.log(6.4) / 27) * (m - 15)));
  const maxMel = hzToMel(sampleRate / 2);
  const edges = Array.from({ length: nMels + 2 }, (_, i) => melToHz((maxMel * i) / (nMels + 1)));
  const filters = new Float32Array(nMels * nFftBins);
  for (let m = 0; m < nMels; m++) {
    const [lo, mid, hi] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
    const norm = 2 / (hi - lo);
    for (let k = 0; k < nFftBins; k++) {
      const f = (k * sampleRate) / 2 / (nFftBins - 1);
      const weight = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      filters[m * nFftBins + k] = weight * norm;
    }
  }
  return filters;
}

/** Like the readable part of GPT-2's byte-level BPE: printable single characters (" " included), then word pieces. */
function vocabulary(random: () => number): string[] {
  const tokens = new Set<string>();
  for (let c = 0x20; c < 0x7f; c++) tokens.add(String.fromCharCode(c));
  const onsets = ['', 'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'st', 'th', 'ch', 'tr'];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou', 'y'];
  const codas = ['', '', 'n', 'r', 's', 't', 'l', 'ng', 'rd', 'ck'];
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  while (tokens.size < FILE_TOKENS) {
    let word = random() < 0.7 ? ' ' : '';
    const syllables = 1 + Math.floor(random() * 3);
    for (let s = 0; s < syllables; s++) word += pick(onsets) + pick(vowels) + pick(codas);
    if (random() < 0.1) word = word.replace(/\w/, (ch) => ch.toUpperCase());
    tokens.add(word);
  }
  const list = [...tokens];
  list[TEXT_TOKEN] = ` ${TINY_WHISPER_TEXT}`;
  return list;
}

function writeTensor(out: ByteWriter, type: number, data: Float32Array): void {
  if (type === 0) out.f32s(data);
  else if (type === 1) for (const v of data) out.u16(f32ToF16(v));
  else if (type === 8) {
    // q8_0: per 32 values, an f16 scale and 32 int8 (ggml's quantize_row_q8_0_ref).
    for (let block = 0; block < data.length; block += 32) {
      let max = 0;
      for (let i = 0; i < 32; i++) max = Math.max(max, Math.abs(data[block + i]!));
      const d = max / 127;
      out.u16(f32ToF16(d));
      for (let i = 0; i < 32; i++) out.i8(d ? Math.round(data[block + i]! / d) : 0);
    }
  } else throw new Error(`the tiny model writer has no encoder for ggml type ${type}`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half precision, round to nearest (enough for weights of moderate size). */
function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  const mantissa = x & 0x7fffff;
  if (exponent >= 31) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const m = (mantissa | 0x800000) >> (1 - exponent);
    return sign | ((m + 0x1000) >> 13);
  }
  return (sign | (exponent << 10) | (mantissa >> 13)) + ((mantissa >> 12) & 1);
}
