import type { JarvisConfig } from '../../config/schema.ts';
import type { LiveModels } from '../../models/live-models.ts';
import { deviceName, type WorkerLoadInfo } from '../llm/protocol.ts';
import { speakableModelName, type LoadedModel, type ModelStatusProvider } from './providers.ts';

/** Which models the model manager (models/live-models.ts) has in use, for "which model is loaded". */
export function liveModelStatus(models: LiveModels): ModelStatusProvider {
  return {
    loadedModels() {
      const llm = models.paths.llm;
      const info = models.pool.activeResponder?.loadInfo;
      const stt = models.paths.stt;
      const language: LoadedModel = {
        role: 'llm',
        name: llm.entry?.title ?? speakableModelName(llm.path),
        ...(info ? { detail: describeDevice(info), vramBytes: info.vramUsedBytes } : { detail: 'not loaded yet' }),
      };
      return [language, { role: 'stt', name: stt.entry?.title ?? speakableModelName(stt.path) }];
    },
  };
}

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
