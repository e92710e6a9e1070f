import fs from 'node:fs';
import type ort from 'onnxruntime-node';
import { DataType, decodeModel, encodeModel, int64Tensor, intAttr, intsOf, node, valueInfo, type Onnx } from '../onnx-graph.ts';
import { onnxRuntime, SINGLE_THREAD_SESSION } from '../onnx.ts';

/**
 * openWakeWord's embedding model, computed as a stream. The model is a chain of convolutions that are "valid"
 * along time and max-pools whose time strides multiply to the 8 mel frames a step adds, so each step's 76-frame
 * window shares 68 frames with the last one and most of the network's work would be repeated. Derived here from
 * the shipped model's own graph and weights, two models do the same arithmetic once:
 *
 *   prime   the original model on a whole window, also returning what each convolution that looks back in time
 *           needs of the window (the last rows of its input): run after a start, a reset or a gap.
 *   step    every layer on only the rows new this step, each convolution that looks back with its saved rows
 *           joined on before them: the same embedding, each number computed once (about half the arithmetic of
 *           saving rows only at the time-pools, as this did first; a sixth of the whole model's).
 *
 * The saved rows go from step to step packed in one flat tensor (the state), not one tensor per convolution:
 * every tensor that crosses into JavaScript and back costs more than the copies that pack it.
 *
 * Only graphs of that shape are taken (Conv, MaxPool, Max/LeakyRelu/Relu, a Reshape at each end); any other
 * embedding model is run whole each step, as before.
 */

export interface EmbeddingStream {
  /**
   * Embedding of `window` (mel frames × bins, oldest first; read before the first await, so the caller may
   * change it afterwards); `newFrames` of them arrived since the previous call. A new array each call.
   */
  embed(window: Float32Array, newFrames: number): Promise<Float32Array>;
  /** The next call is not continuous with the last one (a reset, or steps whose embedding was not computed). */
  forget(): void;
  release(): Promise<void>;
}

/** A convolution that looks back in time: the last rows of its input are kept from step to step. */
interface SavedRows {
  /** The convolution's input, which the saved rows are joined onto. */
  readonly input: string;
  /** Their shape, [1, channels, rows, width]; rows is the convolution's time kernel less one. */
  readonly shape: readonly number[];
}

interface StreamPlan {
  /** Mel frames of a whole window (what the prime model takes). */
  readonly windowFrames: number;
  /** Mel frames the step model takes: the new ones plus the first convolution's context. */
  readonly inputFrames: number;
  readonly strideFrames: number;
  readonly bins: number;
  /** What a step keeps for the next, in the order the state packs it. */
  readonly saved: readonly SavedRows[];
  readonly prime: Uint8Array;
  readonly step: Uint8Array;
}

/** The state in the models: the step model's input, and both models' output for the next step. */
const STATE = 'stream/state';
const NEXT_STATE = 'stream/state_next';

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

  // Down the chain of layers: the activation's channels and width, its rows in the whole window, and how
  // many of them are new each step.
  let current = convInput;
  let channels = 1;
  let width = bins;
  let rows = windowFrames;
  let fresh = strideFrames;
  let inputContext = 0;
  const saved: SavedRows[] = [];
  for (const n of nodes.slice(1, -1)) {
    if (n.input[0] !== current || n.output.length !== 1) return undefined;
    if (n.input.slice(1).some((i) => !initializers.some((t) => t.name === i))) return undefined;
    if (n.opType === 'Conv' || n.opType === 'MaxPool') {
      const [kernel, kernelWidth] = intsOf(n, 'kernel_shape') ?? [];
      const [stride = 1, strideWidth = 1] = intsOf(n, 'strides') ?? [];
      const [dilation = 1, dilationWidth = 1] = intsOf(n, 'dilations') ?? [];
      const [padTop = 0, padLeft = 0, padBottom = 0, padRight = 0] = intsOf(n, 'pads') ?? [];
      const autoPad = n.attribute.find((a) => a.name === 'auto_pad')?.s;
      if (kernel === undefined || kernelWidth === undefined || dilation !== 1 || padTop !== 0 || padBottom !== 0) return undefined;
      if (autoPad && autoPad.length > 0 && Buffer.from(autoPad).toString() !== 'NOTSET') return undefined;
      if (n.attribute.some((a) => a.name === 'ceil_mode' && Number(a.i) !== 0)) return undefined;
      const inputWidth = width;
      width = Math.floor((width + padLeft + padRight - dilationWidth * (kernelWidth - 1) - 1) / strideWidth) + 1;
      if (n.opType === 'Conv') {
        if (stride !== 1) return undefined;
        if (kernel > 1) {
          // The first convolution's context comes with the input frames; the others' is kept.
          if (current === convInput) inputContext = kernel - 1;
          else saved.push({ input: current, shape: [1, channels, kernel - 1, inputWidth] });
        }
        channels = Number(initializers.find((t) => t.name === n.input[1])?.dims[0]);
        rows -= kernel - 1;
      } else {
        // The pool's pairs must fall where they fall in the whole window.
        if (kernel !== stride || fresh % stride !== 0 || rows % stride !== 0) return undefined;
        fresh /= stride;
        rows /= stride;
      }
    } else if (!ELEMENTWISE.has(n.opType!)) {
      return undefined;
    }
    current = n.output[0]!;
  }
  // One row a step, the window's only one: the network's time strides add up to the window's stride.
  if (last.input[0] !== current || fresh !== 1 || rows !== 1) return undefined;
  if (saved.some((s) => s.shape.some((d) => !Number.isInteger(d) || d <= 0))) return undefined;
  const inputFrames = strideFrames + inputContext;
  if (inputFrames > windowFrames) return undefined;

  // Packing: each convolution's last rows, flattened, one after the other.
  const sizes = saved.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const stateSize = sizes.reduce((a, b) => a + b, 0);
  const constants = [
    int64Tensor('stream/time_axis', [1], [2]),
    int64Tensor('stream/flat_axis', [1], [0]),
    int64Tensor('stream/flat', [1], [-1]),
    int64Tensor('stream/end', [1], [INT64_MAX]),
    ...saved.flatMap((s, i) => [
      int64Tensor(`stream/last_rows${i}`, [1], [-s.shape[2]!]),
      int64Tensor(`stream/from${i}`, [1], [offsets[i]!]),
      int64Tensor(`stream/to${i}`, [1], [offsets[i]! + sizes[i]!]),
      int64Tensor(`stream/shape${i}`, [4], s.shape),
    ]),
  ];
  /** The last rows of `from`, flattened for the next state. */
  const keep = (i: number, from: string) => [
    node('Slice', [from, `stream/last_rows${i}`, 'stream/end', 'stream/time_axis'], [`stream/kept${i}`]),
    node('Reshape', [`stream/kept${i}`, 'stream/flat'], [`stream/kept${i}/flat`]),
  ];
  const pack = saved.length > 0 ? [node('Concat', saved.map((_, i) => `stream/kept${i}/flat`), [NEXT_STATE], [intAttr('axis', 0)])] : [];
  const state = (name: string) => (saved.length > 0 ? [valueInfo(name, DataType.FLOAT, [stateSize])] : []);
  const embedding = graph.output[0]!;

  const primeNodes = [...nodes, ...saved.flatMap((s, i) => keep(i, s.input)), ...pack];
  const primeUses = new Set(primeNodes.flatMap((n) => n.input));
  const prime: Onnx.IModelProto = {
    ...model,
    graph: {
      ...graph,
      node: primeNodes,
      initializer: [...initializers, ...constants.filter((t) => primeUses.has(t.name))],
      output: [embedding, ...state(NEXT_STATE)],
    },
  };

  // The step model unpacks the state, starts at the first convolution, and joins the saved rows onto the new
  // ones before each convolution that looks back.
  const unpack = saved.flatMap((_, i) => [
    node('Slice', [STATE, `stream/from${i}`, `stream/to${i}`, 'stream/flat_axis'], [`stream/saved${i}/flat`]),
    node('Reshape', [`stream/saved${i}/flat`, `stream/shape${i}`], [`stream/saved${i}`]),
  ]);
  const chain = nodes.slice(1).flatMap((n) => {
    const i = saved.findIndex((s) => s.input === n.input[0]);
    if (i < 0) return [n];
    const joined = `${n.input[0]}/with_saved_rows`;
    return [node('Concat', [`stream/saved${i}`, n.input[0]!], [joined], [intAttr('axis', 2)]), ...keep(i, joined), { ...n, input: [joined, ...n.input.slice(1)] }];
  });
  const stepNodes = [...unpack, ...chain, ...pack];
  // The first Reshape is gone, and with it the use of its shape (onnxruntime warns of unused initializers).
  const used = new Set(stepNodes.flatMap((n) => n.input));
  const step: Onnx.IModelProto = {
    ...model,
    graph: {
      ...graph,
      node: stepNodes,
      initializer: [...initializers, ...constants].filter((t) => used.has(t.name)),
      input: [valueInfo(convInput, DataType.FLOAT, [1, 1, inputFrames, bins]), ...state(STATE)],
      output: [embedding, ...state(NEXT_STATE)],
      valueInfo: [],
    },
  };
  return { windowFrames, inputFrames, strideFrames, bins, saved, prime: encodeModel(prime), step: encodeModel(step) };
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
  /** What the last call left for the next step, when the next call may continue from it. */
  #state: ort.Tensor | undefined;
  #continuable = false;
  /** The step model's input, filled and run again each step (a step allocates only what onnxruntime returns). */
  readonly #stepInput: Float32Array;
  readonly #stepFeeds: Record<string, ort.Tensor>;
  readonly #embeddingName: string;

  constructor(
    private readonly runtime: typeof ort,
    private readonly prime: ort.InferenceSession,
    private readonly step: ort.InferenceSession,
    private readonly plan: StreamPlan,
  ) {
    const { inputFrames, bins } = plan;
    this.#stepInput = new Float32Array(inputFrames * bins);
    this.#stepFeeds = { [step.inputNames[0]!]: new runtime.Tensor('float32', this.#stepInput, [1, 1, inputFrames, bins]) };
    this.#embeddingName = prime.outputNames[0]!;
  }

  async embed(window: Float32Array, newFrames: number): Promise<Float32Array> {
    const { bins, inputFrames, windowFrames, strideFrames, saved } = this.plan;
    const continuous = this.#continuable && newFrames === strideFrames;
    let output: ort.InferenceSession.ReturnType;
    if (continuous) {
      this.#stepInput.set(window.subarray(window.length - inputFrames * bins));
      if (this.#state) this.#stepFeeds[STATE] = this.#state;
      output = await this.step.run(this.#stepFeeds);
    } else {
      const input = window.slice(-Math.min(window.length / bins, windowFrames) * bins);
      output = await this.prime.run({ [this.prime.inputNames[0]!]: new this.runtime.Tensor('float32', input, [1, input.length / bins, bins, 1]) });
    }
    this.#state = saved.length > 0 ? output[NEXT_STATE] : undefined;
    this.#continuable = true;
    return output[this.#embeddingName]!.data as Float32Array;
  }

  forget(): void {
    this.#continuable = false;
  }

  async release(): Promise<void> {
    await Promise.all([this.prime.release(), this.step.release()]);
  }
}
