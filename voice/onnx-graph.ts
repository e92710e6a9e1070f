import onnxProto, { type onnx as Onnx } from 'onnx-proto';

/**
 * Building blocks for writing ONNX graphs: the streaming form of openWakeWord's embedding model is derived from
 * the shipped one at start, and the tests make models in ONNX's real format with the same pieces.
 */

export const { onnx } = onnxProto;
export type { Onnx };
export const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

export type Dim = number | string;

export function decodeModel(bytes: Uint8Array): Onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: Onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function valueInfo(name: string, elemType: number, dims?: Dim[]): Onnx.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): Onnx.ITensorProto {
  const raw = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) raw.writeFloatLE(values[i]!, i * 4);
  return { name, dims, dataType: DataType.FLOAT, rawData: raw };
}

export function int64Tensor(name: string, dims: number[], values: readonly (number | bigint)[]): Onnx.ITensorProto {
  const raw = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
  return { name, dims, dataType: DataType.INT64, rawData: raw };
}

export function node(opType: string, inputs: string[], outputs: string[], attributes: Onnx.IAttributeProto[] = []): Onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name: outputs[0], attribute: attributes };
}

export const intAttr = (name: string, i: number): Onnx.IAttributeProto => ({ name, type: AttributeType.INT, i });
export const intsAttr = (name: string, ints: number[]): Onnx.IAttributeProto => ({ name, type: AttributeType.INTS, ints });
export const stringAttr = (name: string, s: string): Onnx.IAttributeProto => ({ name, type: AttributeType.STRING, s: Buffer.from(s) });

/** An attribute's integer list (kernel_shape, strides, pads…), or undefined when the node has none. */
export function intsOf(n: Onnx.INodeProto, name: string): number[] | undefined {
  const attribute = n.attribute?.find((a) => a.name === name);
  return attribute?.ints ? attribute.ints.map(Number) : undefined;
}
