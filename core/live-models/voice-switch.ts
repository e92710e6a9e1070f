import type { ModelEntry } from '../../models/types.ts';

/**
 * Which installed LLM a spoken switch means: the skills recognise the request ("use the big model", "switch to the
 * fast model", "use the qwen model", core/skills/intents.ts) and hand over its target words ("big", "qwen").
 */

export type ModelRequest = { readonly want: 'bigger' } | { readonly want: 'smaller' } | { readonly want: 'named'; readonly words: readonly string[] };

const BIGGER = /^(big|bigger|biggest|large|larger|largest|best|better|smart|smarter|smartest|clever|cleverer|strong|stronger)$/;
const SMALLER = /^(small|smaller|smallest|fast|faster|fastest|quick|quicker|quickest|little|light|lighter|tiny)$/;
const FILLER = new Set(['the', 'a', 'an', 'my', 'your', 'other', 'language', 'one', 'model']);

/** "big" → bigger; "fast" → smaller; "llama 8b" → the model named so; undefined when no word is left. */
export function interpretModelWords(target: string): ModelRequest | undefined {
  const words = target.toLowerCase().replace(/[,!?]/g, ' ').split(/\s+/).filter((w) => w && !FILLER.has(w));
  if (words.length === 0) return undefined;
  if (words.length === 1 && BIGGER.test(words[0]!)) return { want: 'bigger' };
  if (words.length === 1 && SMALLER.test(words[0]!)) return { want: 'smaller' };
  return { want: 'named', words };
}

export interface SwitchCandidate {
  readonly entry: ModelEntry;
  /** Larger is better (parameters, discounted for quantisation). */
  readonly quality: number;
}

/** The model the request means, or undefined when nothing installed matches. */
export function pickRequestedModel(request: ModelRequest, candidates: readonly SwitchCandidate[], current: string | undefined): ModelEntry | undefined {
  if (candidates.length === 0) return undefined;
  const byQuality = [...candidates].sort((a, b) => a.quality - b.quality);
  if (request.want === 'bigger') return byQuality.at(-1)!.entry;
  if (request.want === 'smaller') return byQuality[0]!.entry;
  const words = request.words;
  const text = (entry: ModelEntry) => `${entry.id} ${entry.title}`.toLowerCase().replace(/[-_]/g, ' ');
  const scored = candidates
    .map((c) => ({ c, hits: words.filter((w) => text(c.entry).includes(w)).length }))
    .filter((s) => s.hits > 0)
    .sort((a, b) => b.hits - a.hits || (a.c.entry.id === current ? 1 : 0) - (b.c.entry.id === current ? 1 : 0) || b.c.quality - a.c.quality);
  return scored[0]?.c.entry;
}
