/**
 * What the machine skills read, as interfaces: GPU figures come from the telemetry module (core/telemetry), the
 * loaded models from the LLM stage and the model manager (models/). The daemon connects whichever exist; a
 * skill without its provider says honestly that it cannot tell.
 */

export interface GpuReading {
  readonly name: string;
  readonly temperatureC?: number;
  readonly memoryUsedBytes?: number;
  readonly memoryTotalBytes?: number;
  readonly utilizationPercent?: number;
}

export type GpuTelemetryState =
  | { readonly available: true; readonly gpus: readonly GpuReading[] }
  | { readonly available: false; readonly reason: string };

export interface GpuTelemetryProvider {
  /** The latest reading, or why there is none (no NVIDIA GPU, no driver, still starting). */
  gpuState(): Promise<GpuTelemetryState>;
  dispose?(): void;
}

export interface LoadedModel {
  readonly role: 'llm' | 'stt' | 'tts';
  /** A name to say: "Meta Llama 3.1 8B Instruct Q4_K_M". */
  readonly name: string;
  /** "CUDA (GeForce GTX 1080 Ti), 33 of 33 layers on the GPU" */
  readonly detail?: string;
  /** Graphics memory the model takes, when known. */
  readonly vramBytes?: number;
}

export interface ModelStatusProvider {
  /** The models in use now; a configured model that is not loaded yet is listed without detail. */
  loadedModels(): readonly LoadedModel[];
}

export interface ModelSelection {
  /** The model now in use, as it should be said. */
  readonly name: string;
  /** It was in use already: nothing was switched. */
  readonly already: boolean;
  /** How long the switch took. */
  readonly ms?: number;
}

export interface ModelSelector {
  /** Switches the LLM to the model the words name ("the big one", "qwen"); throws a JarvisError saying why not. */
  selectModel(request: string): Promise<ModelSelection>;
}

export interface SkillProviders {
  gpu?: GpuTelemetryProvider;
  models?: ModelStatusProvider;
  modelSelector?: ModelSelector;
}

/** "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf" → "Meta Llama 3.1 8B Instruct Q4_K_M" (quantisation names keep their "_"). */
export function speakableModelName(fileOrName: string): string {
  const base = fileOrName.split(/[\\/]/).pop() ?? fileOrName;
  return base.replace(/\.(?:gguf|bin|onnx)$/i, '').replace(/-/g, ' ');
}
