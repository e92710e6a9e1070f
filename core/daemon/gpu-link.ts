import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { GpuGovernor, type GovernorAction } from '../live-models/gpu-governor.ts';
import type { ModelPool } from '../live-models/pool.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import { GPU_HOT_PROBLEM, type TelemetrySample } from '../protocol/wire.ts';
import type { LiveFeed } from '../server/live-feed.ts';

/**
 * Carries out the GPU governor's decisions (core/live-models/gpu-governor.ts) on the daemon: each is logged and
 * shown on the HUD as a problem while it lasts. Fed by the HUD's telemetry (one nvidia-smi loop for both).
 */

export const GPU_MEMORY_PROBLEM = 'gpu-memory';

export function connectGpuGovernor(
  feed: LiveFeed,
  assistant: Assistant,
  pool: ModelPool,
  config: JarvisConfig,
  log: Logger,
): () => void {
  const governor = new GpuGovernor({ maxTemperatureC: config.gpu.maxTemperatureC, powerLimitFraction: config.gpu.powerLimitFraction, vramHeadroomMiB: config.models.vramHeadroomMb });
  const act = async (action: GovernorAction) => {
    switch (action.type) {
      case 'cool-down':
        assistant.limitAnswers(config.gpu.coolingAnswerSentences);
        assistant.reportProblem({
          id: GPU_HOT_PROBLEM,
          message: `${action.why.charAt(0).toUpperCase()}${action.why.slice(1)}: answers are kept to ${config.gpu.coolingAnswerSentences} sentences until it cools`,
          fix: 'Give the computer more air (clean the fans, open the case side); gpu.maxTemperatureC sets the limit.',
          blocking: false,
        });
        return;
      case 'cooled':
        assistant.limitAnswers(undefined);
        assistant.clearProblem(GPU_HOT_PROBLEM);
        return;
      case 'free-memory': {
        const unloaded = await pool.unloadInactive();
        log.warn({ freeMiB: action.freeMiB, unloaded }, `GPU memory is short (${action.freeMiB} MiB free): ${unloaded.length ? `unloaded ${unloaded.join(', ')}` : 'no idle model to unload'}`);
        assistant.reportProblem({
          id: GPU_MEMORY_PROBLEM,
          message: `Another program is using the GPU's memory (${action.freeMiB} MiB free)${unloaded.length ? `; unloaded the idle ${unloaded.length === 1 ? 'model' : 'models'}` : ''}`,
          fix: 'Close the program using the GPU, or pick a smaller model (`jarvis models list --fits`).',
          blocking: false,
        });
        return;
      }
      case 'suggest-smaller-model':
        assistant.reportProblem({
          id: GPU_MEMORY_PROBLEM,
          message: `The GPU's memory is still short (${action.freeMiB} MiB free): the next model load may fail`,
          fix: 'Pick a model that fits what is free: `jarvis models list --fits`, then `jarvis models use <id>`.',
          blocking: false,
        });
        return;
      case 'memory-ok':
        assistant.clearProblem(GPU_MEMORY_PROBLEM);
        return;
    }
  };
  const onSample = (sample: TelemetrySample) => {
    if (!sample.gpu.available) return;
    const gpu = sample.gpu.gpus[0];
    if (!gpu) return;
    for (const action of governor.observe(gpu)) {
      log.info({ action: action.type }, 'GPU governor');
      act(action).catch((error: unknown) => log.warn({ err: describeError(error).message }, `GPU governor: ${action.type} failed`));
    }
  };
  feed.on('telemetry', onSample);
  return () => feed.off('telemetry', onSample);
}
