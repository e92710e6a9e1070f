import fs from 'node:fs';
import type ort from 'onnxruntime-node';
import { DataType, decodeModel, encodeModel, int64Tensor, intAttr, intsOf, node, valueInfo, type Onnx } from '../onnx-graph.ts';
import { onnxRuntime, SINGLE_THREAD_SESSION } from '../onnx.ts';

/**
 * openWakeWord's embedding model, computed as a stream. The model is a stack of convolutions that are "valid"
 * along time and max-pools whose time strides multiply to the 8 mel frames a step adds, so each step's 76-frame
 * window shares 68 frames with the last one and most of the network's work would be repeated. Derived here from
 * the shipped model's own graph and weights, two models do the same arithmetic once:
 *
 *   prime   the original model on a whole window, also returning what each later stage needs of the window
 *           (the last rows of each time-pooled activation): run after a start, a reset or a gap.
 *   step    the first stage on only the new frames plus its context, then each later stage on its saved rows
 *           plus the rows new this step: the same embedding, with about a third of the work.
 *
 * Only graphs of that shape are taken (Conv, MaxPool, Max/LeakyRelu/Relu, a Reshape at each end); any other
 * embedding model is run whole each step, as before.
 */

export interface EmbeddingStream {
  /** Embedding of `window` (mel frames, oldest first); `newFrames` of them arrived since the previous call. */
  embed(window: readonly Float32Array[], newFrames: number): Promise<Float32Array>;
  /** The next call is not continuous with the last one (a reset, or steps whose embedding was not computed). */
  forget(): void;
  release(): Promise<void>;
}

interface Stage {
  /** Activation leaving the previous stage's time-pool, where this stage's saved rows are joined on. */
  readonly boundary: string;
  /** Rows of that activation this stage needs besides the new ones: the time context of its convolutions. */
  readonly contextRows: number;
}

interface StreamPlan {
  /** Mel frames of a whole window (what the prime model takes). */
  readonly windowFrames: number;
  /** Mel frames the step model takes: the new ones plus the first stage's context. */
  readonly inputFrames: number;
  readonly strideFrames: number;
  readonly bins: number;
  readonly stages: readonly Stage[];
  readonly prime: Uint8Array;
  readonly step: Uint8Array;
}

const ELEMENTWISE = new Set(['LeakyRelu', 'Relu', 'Max']);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Derives the prime and step models from the embedding model at `file`, for windows of `windowFrames` mel
 * frames of `bins` bins advancing by `strideFrames`; undefined when the graph is not of the shape this handles.
 */
export function planStream(file: string, windowFrames: number, bins: number, strideFrames: number): StreamPlan | undefined {
  const model = decodeModel(fs.readFileSync(file));
  // Decoded messages have every repeated field (an empty array where the file has none).
  const graph = model.graph as Onnx.GraphProto | null | undefined;
  if (!graph || graph.input.length !== 1 || graph.output.length !== 1) return undefined;
  const nodes = graph.node as Onnx.NodeProto[];
  const initializers = graph.initializer as Onnx.TensorProto[];
  const [first, last] = [nodes[0], nodes.at(-1)];
  // Reshape [batch, frames, bins, 1] → [batch, 1, frames, bins] first; time is axis 2 from there on.
  if (first?.opType !== 'Reshape' || first.input[0] !== graph.input[0]!.name || last?.opType !== 'Reshape') return undefined;
  const convInput = first.output[0]!;
  if (nodes.filter((n) => n.input.includes(convInput)).length !== 1) return undefined;

  const stages: { boundary?: string; contextRows: number; newRows: number }[] = [{ contextRows: 0, newRows: strideFrames }];
  for (const n of nodes.slice(1, -1)) {
    const stage = stages.at(-1)!;
    if (n.opType === 'Conv') {
      const [kernel] = intsOf(n, 'kernel_shape') ?? [];
      const [stride = 1] = intsOf(n, 'strides') ?? [];
      const [dilation = 1] = intsOf(n, 'dilations') ?? [];
      const pads = intsOf(n, 'pads') ?? [0, 0, 0, 0];
      const autoPad = n.attribute.find((a) => a.name === 'auto_pad')?.s;
      if (kernel === undefined || stride !== 1 || dilation !== 1 || pads[0] !== 0 || pads[2] !== 0) return undefined;
      if (autoPad && autoPad.length > 0 && Buffer.from(autoPad).toString() !== 'NOTSET') return undefined;
      stage.contextRows += kernel - 1;
    } else if (n.opType === 'MaxPool') {
      const [kernel] = intsOf(n, 'kernel_shape') ?? [];
      const [stride = 1] = intsOf(n, 'strides') ?? [];
      const pads = intsOf(n, 'pads') ?? [0, 0, 0, 0];
      if (kernel !== stride || pads[0] !== 0 || pads[2] !== 0) return undefined;
      if (stride === 1) continue;
      // The pool's pairs must fall where they fall in the whole window: each stage's new rows divide evenly.
      if (stage.newRows % stride !== 0) return undefined;
      stages.push({ boundary: n.output[0]!, contextRows: 0, newRows: stage.newRows / stride });
    } else if (!ELEMENTWISE.has(n.opType!) || n.input.slice(1).some((i) => !initializers.some((t) => t.name === i))) {
      return undefined;
    }
  }
  // The last stage must make one row a step: the network's time strides add up to the window's stride.
  if (stages.at(-1)!.newRows !== 1) return undefined;
  const later = stages.slice(1).map((s) => ({ boundary: s.boundary!, contextRows: s.contextRows }));
  const inputFrames = strideFrames + stages[0]!.contextRows;
  if (inputFrames > windowFrames) return undefined;

  const sliceConstants = later.flatMap((s, i) => [int64Tensor(`stream/starts${i}`, [1], [-s.contextRows]), int64Tensor(`stream/ends${i}`, [1], [INT64_MAX])]);
  const timeAxis = int64Tensor('stream/time_axis', [1], [2]);
  const stateOut = (i: number, from: string) => node('Slice', [from, `stream/starts${i}`, `stream/ends${i}`, 'stream/time_axis'], [`state${i}_next`]);
  const stateOutputs = later.map((_, i) => valueInfo(`state${i}_next`, DataType.FLOAT));
  const embedding = graph.output[0]!;

  const prime: Onnx.IModelProto = {
    ...model,
    graph: {
      ...graph,
      node: [...nodes, ...later.map((s, i) => stateOut(i, s.boundary))],
      initializer: [...initializers, ...sliceConstants, timeAxis],
      output: [embedding, ...stateOutputs],
    },
  };

  // The step model starts at the first convolution, and joins each stage's saved rows onto the new ones.
  const joined = (boundary: string) => `${boundary}/with_saved_rows`;
  const renamed = nodes.slice(1).map((n) => ({ ...n, input: n.input.map((i) => (later.some((s) => s.boundary === i) ? joined(i) : i)) }));
  // The first Reshape is gone, and with it the use of its shape (onnxruntime warns of unused initializers).
  const used = new Set(renamed.flatMap((n) => n.input));
  const channelsOf = (boundary: string) => channelsBefore(initializers, nodes, boundary);
  const step: Onnx.IModelProto = {
    ...model,
    graph: {
      ...graph,
      node: [
        ...renamed.flatMap((n) => {
          const boundary = n.output[0]!;
          const index = later.findIndex((s) => s.boundary === boundary);
          if (index < 0) return [n];
          return [n, node('Concat', [`state${index}`, boundary], [joined(boundary)], [intAttr('axis', 2)]), stateOut(index, joined(boundary))];
        }),
      ],
      initializer: [...initializers.filter((t) => used.has(t.name)), ...sliceConstants, timeAxis],
      input: [
        valueInfo(convInput, DataType.FLOAT, [1, 1, inputFrames, bins]),
        ...later.map((s, i) => valueInfo(`state${i}`, DataType.FLOAT, [1, channelsOf(s.boundary), s.contextRows, 'width'])),
      ],
      output: [embedding, ...stateOutputs],
      valueInfo: [],
    },
  };
  return { windowFrames, inputFrames, strideFrames, bins, stages: later, prime: encodeModel(prime), step: encodeModel(step) };
}

/** Channels of the activation `tensor`: the output channels of the last convolution before it. */
function channelsBefore(initializers: Onnx.TensorProto[], nodes: Onnx.NodeProto[], tensor: string): number {
  const at = nodes.findIndex((n) => n.output.includes(tensor));
  const conv = nodes.slice(0, at).reverse().find((n) => n.opType === 'Conv')!;
  const weights = initializers.find((t) => t.name === conv.input[1])!;
  return Number(weights.dims[0]);
}

/** Opens the two sessions for `plan`. */
export async function openStreamingEmbedding(plan: StreamPlan): Promise<EmbeddingStream> {
  const runtime = await onnxRuntime();
  const [prime, step] = await Promise.all([
    runtime.InferenceSession.create(plan.prime, SINGLE_THREAD_SESSION),
    runtime.InferenceSession.create(plan.step, SINGLE_THREAD_SESSION),
  ]);
  return new StreamingEmbedding(runtime, prime, step, plan);
}

class StreamingEmbedding implements EmbeddingStream {
  #saved: ort.Tensor[] | undefined;

  constructor(
    private readonly runtime: typeof ort,
    private readonly prime: ort.InferenceSession,
    private readonly step: ort.InferenceSession,
    private readonly plan: StreamPlan,
  ) {}

  async embed(window: readonly Float32Array[], newFrames: number): Promise<Float32Array> {
    const { Tensor } = this.runtime;
    const { bins, inputFrames, windowFrames, strideFrames, stages } = this.plan;
    const continuous = this.#saved !== undefined && newFrames === strideFrames;
    const frames = continuous ? window.slice(-inputFrames) : window.slice(-windowFrames);
    const input = new Float32Array(frames.length * bins);
    frames.forEach((frame, i) => input.set(frame, i * bins));
    const output = continuous
      ? await this.step.run({
          [this.step.inputNames[0]!]: new Tensor('float32', input, [1, 1, inputFrames, bins]),
          ...Object.fromEntries(this.#saved!.map((t, i) => [`state${i}`, t])),
        })
      : await this.prime.run({ [this.prime.inputNames[0]!]: new Tensor('float32', input, [1, frames.length, bins, 1]) });
    this.#saved = stages.map((_, i) => output[`state${i}_next`]!);
    return Float32Array.from(output[this.prime.outputNames[0]!]!.data as Float32Array);
  }

  forget(): void {
    this.#saved = undefined;
  }

  async release(): Promise<void> {
    await Promise.all([this.prime.release(), this.step.release()]);
  }
}
