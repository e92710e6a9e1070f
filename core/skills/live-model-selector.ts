import { quantizationRetention } from '../../models/fit.ts';
import type { LiveModels } from '../../models/live-models.ts';
import { parseModelRequest, pickRequestedModel } from '../../models/voice-switch.ts';
import { JarvisError } from '../errors.ts';
import type { ModelSelection, ModelSelector } from './providers.ts';

/**
 * "Switch to the big model" through the model manager (models/): the words are read by its own parser, the
 * candidates are the installed LLMs, and the switch is its `select()`, so a voice switch and `jarvis models use`
 * do the same thing.
 */
export function liveModelSelector(models: LiveModels): ModelSelector {
  return {
    async selectModel(words: string): Promise<ModelSelection> {
      const request = parseModelRequest(`use the ${words} model`);
      const installed = models.store.entries().filter((e) => e.kind === 'llm' && models.store.state(e) === 'installed');
      const current = models.paths.llm.entry?.id;
      const candidates = installed.map((entry) => ({ entry, quality: (entry.llm?.parametersB ?? 0) * quantizationRetention(entry.llm?.quantization) }));
      const entry = request ? pickRequestedModel(request, candidates, current) : undefined;
      if (!entry) {
        throw new JarvisError(
          'no-such-model',
          installed.length <= 1 ? 'I have no other language model installed' : `I have no language model called ${words}`,
          'Run jarvis models list to see the models, and jarvis models pull to get another.',
        );
      }
      if (entry.id === current) return { name: entry.title, detail: 'which I was already using' };
      const { ms } = await models.select(entry.id);
      return { name: entry.title, detail: `it took ${(ms / 1000).toFixed(1)} seconds` };
    },
  };
}
