import fs from 'node:fs/promises';
import path from 'node:path';
import { ModelFileError } from '../../base/errors.ts';

/**
 * The legacy ggml file whisper.cpp reads (whisper_model_load in the binding's whisper.cpp/src/whisper.cpp), and
 * the check of a model file in JS before whisper.cpp sees it.
 *
 * whisper.cpp's loader trusts the header: a file cut before its tensors loads as an "empty model for testing" and
 * transcribes to nothing, a wrong mel filter size is only asserted in debug builds, a vocabulary without " " throws
 * while decoding, and every failure it does notice comes back as the same "Failed to initialize whisper context".
 * inspectWhisperModel gives each bad file its own error code and fix.
 */

export const GGML_FILE_MAGIC = 0x67676d6c;
const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian uint32
/** Mel filter columns: 1 + WHISPER_N_FFT / 2; log_mel_spectrogram only asserts it, in debug builds. */
export const WHISPER_N_FFT_BINS = 201;
/** 30 s of 10 ms mel frames after the stride-2 convolution; every released Whisper model uses it. */
export const WHISPER_AUDIO_CTX = 1500;

export interface WhisperHparams {
  readonly nVocab: number;
  readonly nAudioCtx: number;
  readonly nAudioState: number;
  readonly nAudioHead: number;
  readonly nAudioLayer: number;
  readonly nTextCtx: number;
  readonly nTextState: number;
  readonly nTextHead: number;
  readonly nTextLayer: number;
  readonly nMels: number;
  /** As stored: ggml ftype plus quantization version × 1000. */
  readonly ftype: number;
}

export const HPARAM_ORDER = [
  'nVocab', 'nAudioCtx', 'nAudioState', 'nAudioHead', 'nAudioLayer',
  'nTextCtx', 'nTextState', 'nTextHead', 'nTextLayer', 'nMels', 'ftype',
] as const satisfies readonly (keyof WhisperHparams)[];

/** Bytes per block and elements per block of the ggml types a whisper.cpp model file can hold. */
export const GGML_TYPES: Readonly<Record<number, { name: string; size: number; block: number }>> = {
  0: { name: 'f32', size: 4, block: 1 },
  1: { name: 'f16', size: 2, block: 1 },
  2: { name: 'q4_0', size: 18, block: 32 },
  3: { name: 'q4_1', size: 20, block: 32 },
  6: { name: 'q5_0', size: 22, block: 32 },
  7: { name: 'q5_1', size: 24, block: 32 },
  8: { name: 'q8_0', size: 34, block: 32 },
  10: { name: 'q2_k', size: 84, block: 256 },
  11: { name: 'q3_k', size: 110, block: 256 },
  12: { name: 'q4_k', size: 144, block: 256 },
  13: { name: 'q5_k', size: 176, block: 256 },
  14: { name: 'q6_k', size: 210, block: 256 },
  30: { name: 'bf16', size: 2, block: 1 },
};

/** ggml_ftype → the ggml type of the big matrices (ggml_ftype_to_ggml_type), for the ftypes whisper.cpp writes. */
export const FTYPE_WEIGHT_TYPE: Readonly<Record<number, number>> = {
  0: 0, 1: 1, 2: 2, 3: 3, 7: 8, 8: 6, 9: 7, 10: 10, 11: 11, 12: 12, 13: 13, 14: 14, 24: 30,
};

const GGML_QNT_VERSION_FACTOR = 1000;

export interface WhisperTensorSpec {
  readonly name: string;
  /** ggml order: ne[0] varies fastest. */
  readonly ne: readonly number[];
  readonly type: number;
}

export function tensorBytes(type: number, ne: readonly number[]): number {
  const t = GGML_TYPES[type];
  if (!t) throw new Error(`unknown ggml type ${type}`);
  return (ne.reduce((a, b) => a * b, 1) / t.block) * t.size;
}

/** Every tensor whisper_model_load creates for these hparams, with the type it allocates it as. */
export function whisperTensorSpecs(h: WhisperHparams): WhisperTensorSpec[] {
  const wtype = FTYPE_WEIGHT_TYPE[h.ftype % GGML_QNT_VERSION_FACTOR];
  if (wtype === undefined) throw new Error(`unsupported ftype ${h.ftype}`);
  const vtype = wtype === 0 ? 0 : 1; // the convolutions stay f16 in quantized models
  const F32 = 0;
  const specs: WhisperTensorSpec[] = [];
  const add = (name: string, ne: number[], type: number) => specs.push({ name, ne, type });

  const a = h.nAudioState;
  add('encoder.positional_embedding', [a, h.nAudioCtx], F32);
  add('encoder.conv1.weight', [3, h.nMels, a], vtype);
  add('encoder.conv1.bias', [1, a], F32);
  add('encoder.conv2.weight', [3, a, a], vtype);
  add('encoder.conv2.bias', [1, a], F32);
  add('encoder.ln_post.weight', [a], F32);
  add('encoder.ln_post.bias', [a], F32);
  for (let i = 0; i < h.nAudioLayer; i++) addBlock(`encoder.blocks.${i}`, a, false);

  const t = h.nTextState;
  add('decoder.positional_embedding', [t, h.nTextCtx], F32);
  add('decoder.token_embedding.weight', [t, h.nVocab], wtype);
  add('decoder.ln.weight', [t], F32);
  add('decoder.ln.bias', [t], F32);
  for (let i = 0; i < h.nTextLayer; i++) addBlock(`decoder.blocks.${i}`, t, true);
  return specs;

  function addBlock(prefix: string, n: number, cross: boolean): void {
    add(`${prefix}.mlp_ln.weight`, [n], F32);
    add(`${prefix}.mlp_ln.bias`, [n], F32);
    add(`${prefix}.mlp.0.weight`, [n, 4 * n], wtype!);
    add(`${prefix}.mlp.0.bias`, [4 * n], F32);
    add(`${prefix}.mlp.2.weight`, [4 * n, n], wtype!);
    add(`${prefix}.mlp.2.bias`, [n], F32);
    addAttention(`${prefix}.attn_ln`, `${prefix}.attn`, n);
    if (cross) addAttention(`${prefix}.cross_attn_ln`, `${prefix}.cross_attn`, n);
  }

  function addAttention(ln: string, attn: string, n: number): void {
    add(`${ln}.weight`, [n], F32);
    add(`${ln}.bias`, [n], F32);
    add(`${attn}.query.weight`, [n, n], wtype!);
    add(`${attn}.query.bias`, [n], F32);
    add(`${attn}.key.weight`, [n, n], wtype!); // Whisper's key projection has no bias
    add(`${attn}.value.weight`, [n, n], wtype!);
    add(`${attn}.value.bias`, [n], F32);
    add(`${attn}.out.weight`, [n, n], wtype!);
    add(`${attn}.out.bias`, [n], F32);
  }
}

export interface WhisperModelFileInfo {
  readonly hparams: WhisperHparams;
  readonly multilingual: boolean;
  readonly weightType: string;
  readonly sizeBytes: number;
}

/** Where the official ggml file of that name is published (the default model when the name is not one of them). */
export function whisperModelUrl(file: string): string {
  const name = path.basename(file);
  return `https://huggingface.co/ggerganov/whisper.cpp/resolve/main/${/^ggml-[\w.-]+\.bin$/.test(name) ? name : 'ggml-base.en.bin'}`;
}

/**
 * Walks the whole header (hparams, mel filters, vocabulary, every tensor record) without reading tensor data, and
 * throws ModelFileError unless whisper.cpp would find exactly the tensors it expects, complete.
 */
export async function inspectWhisperModel(file: string): Promise<WhisperModelFileInfo> {
  const redownload = `Delete it and download it again from ${whisperModelUrl(file)} (save it as ${file}).`;
  const corrupt = (why: string) => new ModelFileError('model-corrupt', file, `Whisper model ${file} is damaged: ${why}`, redownload);
  const wrongFormat = (why: string) =>
    new ModelFileError(
      'model-wrong-format',
      file,
      `${file} is not a whisper.cpp model: ${why}`,
      `stt.model must be a whisper.cpp ggml .bin file, e.g. ${whisperModelUrl(file)} saved as ${file}.`,
    );

  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ModelFileError(
        'model-missing',
        file,
        `Whisper model not found: ${file}`,
        `Download ${whisperModelUrl(file)} and save it as ${file} (or point stt.model at a whisper.cpp model you have).`,
        { cause: error },
      );
    }
    throw new ModelFileError('model-load-failed', file, `cannot open Whisper model ${file}: ${(error as Error).message}`,
      `Make ${file} readable by the user JARVIS runs as.`, { cause: error });
  }

  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw wrongFormat('it is a directory or device, not a file');
    const reader = new FileReader(handle, stat.size);
    // Checks that `bytes` more exist and brings them into memory (with `readAhead` more), unless they are skipped.
    const need = (bytes: number, what: string, readAhead = 1 << 20): Promise<void> | undefined => {
      if (reader.pos + bytes > stat.size) {
        throw corrupt(`the file is ${stat.size} bytes but its header needs at least ${reader.pos + bytes} to hold ${what} ` +
          `(an interrupted download?)`);
      }
      return readAhead < 0 || reader.has(bytes) ? undefined : reader.fill(bytes, readAhead);
    };
    const SKIP = -1;
    const RECORD = 4096; // one tensor record; the next is a whole tensor away

    if (stat.size < 4) throw wrongFormat(`it is only ${stat.size} bytes long`);
    await reader.fill(4, RECORD);
    const magic = reader.u32();
    if (magic === GGUF_MAGIC) {
      throw wrongFormat('it is a GGUF file (llama.cpp and newer ggml tools); whisper.cpp reads the legacy ggml .bin format');
    }
    if (magic !== GGML_FILE_MAGIC) {
      throw wrongFormat(`it starts with bytes ${hex(magic)}, not the ggml magic ${hex(GGML_FILE_MAGIC)}`);
    }

    await need(4 * HPARAM_ORDER.length, 'the model dimensions');
    const values: number[] = [];
    for (let i = 0; i < HPARAM_ORDER.length; i++) values.push(reader.i32());
    const hparams = Object.fromEntries(HPARAM_ORDER.map((key, i) => [key, values[i]!])) as unknown as WhisperHparams;
    const problem = implausibleHparams(hparams);
    if (problem) throw wrongFormat(`its header does not describe a Whisper model (${problem}); is it another ggml model?`);
    const weightType = FTYPE_WEIGHT_TYPE[hparams.ftype % GGML_QNT_VERSION_FACTOR];
    if (weightType === undefined) throw wrongFormat(`its weight type (ftype ${hparams.ftype}) is not one whisper.cpp writes`);

    await need(8, 'the mel filter bank size');
    const nMel = reader.i32();
    const nFft = reader.i32();
    if (nMel !== hparams.nMels || nFft !== WHISPER_N_FFT_BINS) {
      throw corrupt(`mel filter bank is ${nMel}×${nFft}, expected ${hparams.nMels}×${WHISPER_N_FFT_BINS}`);
    }
    await need(4 * nMel * nFft, 'the mel filter bank', SKIP);
    reader.skip(4 * nMel * nFft);

    await need(4, 'the vocabulary size');
    const nTokens = reader.i32();
    if (nTokens < 1 || nTokens > hparams.nVocab) throw corrupt(`vocabulary of ${nTokens} tokens (model has ${hparams.nVocab})`);
    let hasSpace = false;
    for (let i = 0; i < nTokens; i++) {
      const header = need(4, `token ${i} of ${nTokens}`);
      if (header) await header;
      const length = reader.u32();
      if (length > 1024) throw corrupt(`token ${i} claims to be ${length} bytes long`);
      const body = need(length, `token ${i} of ${nTokens}`);
      if (body) await body;
      if (length === 1) hasSpace = reader.byte() === 0x20 || hasSpace;
      else reader.skip(length);
    }
    // whisper.cpp looks the " " token up with map::at while decoding; without it every transcription would throw.
    if (!hasSpace) throw corrupt('its vocabulary has no " " token');

    const specs = new Map(whisperTensorSpecs(hparams).map((s) => [s.name, s]));
    const seen = new Set<string>();
    while (reader.pos < stat.size) {
      await need(12, `the record of tensor ${seen.size + 1} of ${specs.size}`, RECORD);
      const nDims = reader.i32();
      const nameLength = reader.i32();
      const fileType = reader.i32();
      if (nDims < 1 || nDims > 4 || nameLength < 1 || nameLength > 256) {
        throw corrupt(`tensor record ${seen.size + 1} is malformed (dims ${nDims}, name length ${nameLength})`);
      }
      await need(4 * nDims + nameLength, `the record of tensor ${seen.size + 1} of ${specs.size}`, RECORD);
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(reader.i32());
      const name = reader.text(nameLength);
      const spec = specs.get(name);
      if (!spec) throw corrupt(`unexpected tensor '${printable(name)}'`);
      if (seen.has(name)) throw corrupt(`tensor '${name}' appears twice`);
      if (!sameShape(ne, spec.ne)) throw corrupt(`tensor '${name}' is [${ne}], expected [${spec.ne}]`);
      const bytes = tensorBytes(spec.type, spec.ne);
      const stored = GGML_TYPES[fileType];
      // The loader's own check: element count × the stored type's size, per block of the type it allocated.
      const elements = ne.reduce((x, y) => x * y, 1);
      if (!stored || (elements * stored.size) / GGML_TYPES[spec.type]!.block !== bytes) {
        throw corrupt(`tensor '${name}' is stored as type ${fileType}, which does not fit ${GGML_TYPES[spec.type]!.name}`);
      }
      await need(bytes, `the data of tensor '${name}'`, SKIP);
      reader.skip(bytes);
      seen.add(name);
    }
    if (seen.size !== specs.size) {
      throw corrupt(`it ends after ${seen.size} of the ${specs.size} tensors it should hold (an interrupted download?)`);
    }
    return {
      hparams,
      multilingual: hparams.nVocab >= 51865,
      weightType: GGML_TYPES[weightType]!.name,
      sizeBytes: stat.size,
    };
  } finally {
    await handle.close();
  }
}

function implausibleHparams(h: WhisperHparams): string | undefined {
  if (h.nVocab < 51864 || h.nVocab > 51866) return `vocabulary size ${h.nVocab}`;
  if (h.nAudioCtx !== WHISPER_AUDIO_CTX) return `audio context ${h.nAudioCtx}`;
  if (h.nMels !== 80 && h.nMels !== 128) return `${h.nMels} mel bands`;
  if (h.nAudioState !== h.nTextState) return `encoder width ${h.nAudioState} ≠ decoder width ${h.nTextState}`;
  for (const [state, heads] of [[h.nAudioState, h.nAudioHead], [h.nTextState, h.nTextHead]] as const) {
    if (state < 1 || state > 8192 || heads < 1 || state % heads !== 0) return `width ${state} with ${heads} heads`;
  }
  for (const layers of [h.nAudioLayer, h.nTextLayer]) if (layers < 1 || layers > 128) return `${layers} layers`;
  if (h.nTextCtx < 1 || h.nTextCtx > 8192) return `text context ${h.nTextCtx}`;
  if (h.ftype < 0) return `ftype ${h.ftype}`;
  return undefined;
}

function sameShape(ne: readonly number[], expected: readonly number[]): boolean {
  for (let d = 0; d < 4; d++) if ((ne[d] ?? 1) !== (expected[d] ?? 1)) return false;
  return true;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);

/**
 * Sequential reads through a window, synchronous once fill() has brought the bytes in, so walking a 50 000-token
 * vocabulary costs no promise per token, and walking a multi-GB model reads a few MB.
 */
class FileReader {
  pos = 0;
  #window = Buffer.alloc(0);
  #windowStart = 0;

  constructor(private readonly handle: fs.FileHandle, private readonly size: number) {}

  has(bytes: number): boolean {
    return this.pos >= this.#windowStart && this.pos + bytes <= this.#windowStart + this.#window.length;
  }

  async fill(bytes: number, readAhead: number): Promise<void> {
    const length = Math.min(Math.max(bytes, readAhead), this.size - this.pos);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, this.pos);
    if (bytesRead < bytes) throw new Error(`short read at byte ${this.pos} of ${this.size}`);
    this.#window = buffer.subarray(0, bytesRead);
    this.#windowStart = this.pos;
  }

  skip(bytes: number): void {
    this.pos += bytes;
  }

  i32(): number {
    const value = this.#window.readInt32LE(this.pos - this.#windowStart);
    this.pos += 4;
    return value;
  }

  u32(): number {
    const value = this.#window.readUInt32LE(this.pos - this.#windowStart);
    this.pos += 4;
    return value;
  }

  byte(): number {
    const value = this.#window[this.pos - this.#windowStart]!;
    this.pos += 1;
    return value;
  }

  text(bytes: number): string {
    const start = this.pos - this.#windowStart;
    this.pos += bytes;
    return this.#window.toString('latin1', start, start + bytes);
  }
}
