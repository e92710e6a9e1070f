import { JarvisError } from '../../base/errors.ts';
import { quantizationRetention } from '../../models/fit.ts';
import { describeDevice } from '../skills/model-status.ts';
import { speakableModelName, type LoadedModel, type ModelSelection, type ModelSelector, type ModelStatusProvider } from '../skills/providers.ts';
import type { LiveModels } from './live-models.ts';
import { interpretModelWords, pickRequestedModel } from './voice-switch.ts';

/**
 * What the skills ask the running model manager: which models are in use ("which model is loaded") and a switch
 * by voice ("use the big model"), which is its `select()`, so a voice switch and `jarvis models use` do the same.
 */

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

/** `target`: the words the skills heard ("big", "qwen", "llama 8b"). Only installed LLMs are candidates. */
export function liveModelSelector(models: LiveModels): ModelSelector {
  return {
    async selectModel(target: string): Promise<ModelSelection> {
      const request = interpretModelWords(target);
      const installed = models.store.entries().filter((e) => e.kind === 'llm' && models.store.state(e) === 'installed');
      const current = models.paths.llm.entry?.id;
      const candidates = installed.map((entry) => ({ entry, quality: (entry.llm?.parametersB ?? 0) * quantizationRetention(entry.llm?.quantization) }));
      const entry = request ? pickRequestedModel(request, candidates, current) : undefined;
      if (!entry) {
        throw new JarvisError(
          'no-such-model',
          installed.length <= 1 ? 'I have no other language model installed' : `I have no language model called ${target}`,
          'Run jarvis models list to see the models, and jarvis models pull to get another.',
        );
      }
      if (entry.id === current) return { name: entry.title, already: true };
      const { ms } = await models.select(entry.id);
      return { name: entry.title, already: false, ms };
    },
  };
}
