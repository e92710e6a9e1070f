import { ByteWriter } from './byte-writer.ts';

/**
 * The one GGUF v3 encoder: the header (magic, version, counts), typed metadata key/values, the tensor-info table
 * with each tensor's aligned data offset, and the tensor data. gguf-shape.ts writes header-only files of a model's
 * shape for node-llama-cpp's GgufInsights; the tests write whole tiny models with it (test/models/tiny-gguf.ts).
 * Layout as in ggml's docs/gguf.md.
 */

/** The ggml tensor types the writers use (ggml_type). */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14 } as const;

/** GGUF metadata value types (gguf_type). */
const ValueType = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;

/** The alignment of tensor data when the metadata has no `general.alignment`. */
const DEFAULT_ALIGNMENT = 32;

/** One metadata key/value: the key, the value's type, the value. */
export type GgufEntry =
  | readonly [key: string, type: 'u32' | 'f32', value: number]
  | readonly [key: string, type: 'bool', value: boolean]
  | readonly [key: string, type: 'str', value: string]
  | readonly [key: string, type: 'str[]', value: readonly string[]]
  | readonly [key: string, type: 'f32[]' | 'i32[]', value: readonly number[]];

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: the innermost (contiguous) dimension first. */
  readonly dimensions: readonly number[];
  readonly ggmlType: number;
  /** Bytes of the tensor's data, before the padding to the alignment. */
  readonly dataBytes: number;
}

export interface GgufTensor extends Omit<GgufTensorInfo, 'dataBytes'> {
  readonly data: ArrayBufferView;
}

/** `bytes` rounded up to a multiple of `alignment`. */
function alignUp(bytes: number, alignment: number): number {
  return Math.ceil(bytes / alignment) * alignment;
}

/** The tensor data alignment the metadata sets (`general.alignment`), or GGUF's default. */
function alignmentOf(metadata: readonly GgufEntry[]): number {
  const entry = metadata.find(([key]) => key === 'general.alignment');
  if (!entry) return DEFAULT_ALIGNMENT;
  if (entry[1] !== 'u32') throw new Error('general.alignment must be a u32');
  return entry[2];
}

function writeEntry(w: ByteWriter, entry: GgufEntry): void {
  w.str(entry[0]);
  switch (entry[1]) {
    case 'u32':
      w.u32(ValueType.uint32);
      return w.u32(entry[2]);
    case 'f32':
      w.u32(ValueType.float32);
      return w.f32(entry[2]);
    case 'bool':
      w.u32(ValueType.bool);
      return w.bytes(Uint8Array.of(entry[2] ? 1 : 0));
    case 'str':
      w.u32(ValueType.string);
      return w.str(entry[2]);
    case 'str[]':
      return writeArray(w, ValueType.string, entry[2], (s) => w.str(s));
    case 'f32[]':
      return writeArray(w, ValueType.float32, entry[2], (f) => w.f32(f));
    case 'i32[]':
      return writeArray(w, ValueType.int32, entry[2], (i) => w.i32(i));
  }
}

function writeArray<T>(w: ByteWriter, elementType: number, values: readonly T[], write: (value: T) => void): void {
  w.u32(ValueType.array);
  w.u32(elementType);
  w.u64(values.length);
  for (const value of values) write(value);
}

/** Magic, version, counts, metadata and the tensor table, padded to where the tensor data starts. */
function writeHeader(w: ByteWriter, metadata: readonly GgufEntry[], tensors: readonly GgufTensorInfo[]): void {
  const alignment = alignmentOf(metadata);
  w.bytes(Buffer.from('GGUF', 'latin1'));
  w.u32(3); // version
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const entry of metadata) writeEntry(w, entry);
  let offset = 0;
  for (const tensor of tensors) {
    w.str(tensor.name);
    w.u32(tensor.dimensions.length);
    for (const d of tensor.dimensions) w.u64(d);
    w.u32(tensor.ggmlType);
    w.u64(offset);
    offset += alignUp(tensor.dataBytes, alignment);
  }
  w.padTo(alignment);
}

/** The header of a GGUF file (everything up to where tensor data starts): all GgufInsights reads. */
export function encodeGgufHeader(metadata: readonly GgufEntry[], tensors: readonly GgufTensorInfo[]): Buffer {
  const w = new ByteWriter();
  writeHeader(w, metadata, tensors);
  return w.toBuffer();
}

/** The size of the whole file the header describes: the header, then each tensor's data padded to the alignment. */
export function ggufFileBytes(metadata: readonly GgufEntry[], tensors: readonly GgufTensorInfo[]): number {
  const alignment = alignmentOf(metadata);
  return encodeGgufHeader(metadata, tensors).length + tensors.reduce((sum, t) => sum + alignUp(t.dataBytes, alignment), 0);
}

/** A whole GGUF file: the header, then each tensor's data, padded to the alignment. */
export function encodeGguf(metadata: readonly GgufEntry[], tensors: readonly GgufTensor[]): Buffer {
  const w = new ByteWriter();
  writeHeader(w, metadata, tensors.map((t) => ({ ...t, dataBytes: t.data.byteLength })));
  const alignment = alignmentOf(metadata);
  for (const tensor of tensors) {
    w.bytes(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    w.padTo(alignment);
  }
  return w.toBuffer();
}
