import type { JarvisConfig } from '../../config/schema.ts';
import { deviceName, type WorkerLoadInfo } from '../llm/protocol.ts';
import { speakableModelName, type ModelStatusProvider } from './providers.ts';

/** The configured models, for a process without the model manager (`jarvis ask`): names, nothing loaded. */
export function configuredModelStatus(config: JarvisConfig): ModelStatusProvider {
  return {
    loadedModels: () => [
      { role: 'llm', name: speakableModelName(config.llm.model), detail: 'not loaded in this process' },
      { role: 'stt', name: speakableModelName(config.stt.model) },
    ],
  };
}

/** "running on the CPU", "on CUDA (NVIDIA GeForce GTX 1080 Ti) with 33 of 33 layers on the GPU" */
export function describeDevice(info: WorkerLoadInfo): string {
  if (info.device === 'cpu') return 'running on the CPU';
  const name = deviceName(info.device);
  const gpus = info.gpuNames.length ? ` (${info.gpuNames.join(', ')})` : '';
  return `on ${name}${gpus} with ${info.layersOnGpu} of ${info.totalLayers} layers on the GPU`;
}
