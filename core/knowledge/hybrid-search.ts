import type { KnowledgeDb, PassageRow } from './knowledge-db.ts';
import type { ExactVectors } from './exact-vectors.ts';

/**
 * Keyword and meaning, fused: FTS5 BM25 finds names, numbers and codes ("F28", "policy 4471") that an embedding
 * blurs; the vectors find "how hot does the water get" in a passage that says "temperature". The two rankings are
 * fused by reciprocal rank (score = Σ 1 / (60 + rank)), which needs no calibration between BM25 and cosine.
 * A passage counts as relevant when it shares at least half of the question's content words (title and heading
 * included) or is closer than `minSimilarity` in meaning; with none relevant the answer is "nothing found".
 * Relevant passages are ordered by how many of the question's words they hold, then by the fused rank.
 */

export interface FoundPassage extends PassageRow {
  /** Fused score (higher is better). */
  readonly score: number;
  /** Cosine similarity to the question; undefined when the vector side did not rank it. */
  readonly similarity: number | undefined;
  /** Content words of the question found in the passage, its heading or its file's title. */
  readonly matchedWords: number;
  readonly relevant: boolean;
}

const RRF_K = 60;
const CANDIDATES = 50;

/** Words that say nothing about which passage is meant. */
const STOP_WORDS = new Set(
  `a an the and or but of to in on at for from by with about as is are was were be been being do does did done have has had
   what whats when where which who whom whose why how that this these those it its it's i me my we our you your he she they them
   their there here can could should would will shall may might must not no yes if then than so such any some all each
   tell say says said show find look give know let please jarvis hey document documents doc docs file files manual letter
   page pages according`.split(/\s+/),
);

export function contentWords(text: string): string[] {
  const words = text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => !STOP_WORDS.has(w) && (w.length > 1 || /\d/.test(w))))];
}

export interface SearchInput {
  readonly question: string;
  /** The question's vector; undefined when the embedder is unavailable (keywords only). */
  readonly vector: Float32Array | undefined;
  readonly limit: number;
  readonly minSimilarity: number;
}

/** The keyword side alone (FTS5 BM25): it needs no vector, so Knowledge.search runs it while the question is embedded. */
export interface KeywordHits {
  readonly question: string;
  readonly words: string[];
  readonly hits: ReturnType<KnowledgeDb['keywordSearch']>;
}

export function keywordHits(db: KnowledgeDb, question: string): KeywordHits {
  const words = contentWords(question);
  return { question, words, hits: db.keywordSearch(words, CANDIDATES) };
}

/** What the vector side needs of ExactVectors (the bench passes its f32-only scan to compare). */
export type VectorSearch = Pick<ExactVectors, 'size' | 'search'>;

/** `keywords`: keywordHits() of the same question, when it was run already. */
export function hybridSearch(db: KnowledgeDb, vectors: VectorSearch, input: SearchInput, keywords?: KeywordHits): FoundPassage[] {
  const { words, hits: keyword } = keywords?.question === input.question ? keywords : keywordHits(db, input.question);
  const semantic = input.vector && vectors.size > 0 ? vectors.search(input.vector, CANDIDATES) : [];
  const fused = new Map<number, number>();
  keyword.forEach((hit, rank) => fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (RRF_K + rank + 1)));
  const similarity = new Map<number, number>();
  semantic.forEach((hit, rank) => {
    similarity.set(hit.id, hit.score);
    fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (RRF_K + rank + 1));
  });
  const ranked = [...fused.entries()].sort((a, b) => b[1] - a[1]);
  const rows = db.passages(ranked.map(([id]) => id));
  const needed = Math.max(1, Math.ceil(words.length / 2));
  const out: FoundPassage[] = [];
  for (const [id, score] of ranked) {
    const row = rows.get(id);
    if (!row) continue;
    const present = new Set(contentWords(`${row.title ?? ''} ${row.heading ?? ''} ${row.text}`).flatMap((w) => [w, stem(w)]));
    const matchedWords = words.filter((w) => present.has(w) || present.has(stem(w))).length;
    const sim = similarity.get(id);
    const relevant = (words.length > 0 && matchedWords >= needed) || (sim !== undefined && sim >= input.minSimilarity);
    out.push({ ...row, score, similarity: sim, matchedWords, relevant });
  }
  // Relevant ones first; among them, those with more of the question's words (a passage naming the boiler and the
  // pressure beats one naming only the boiler), then the fused order.
  const relevant = out.filter((p) => p.relevant).sort((a, b) => b.matchedWords - a.matchedWords || b.score - a.score);
  return [...relevant, ...out.filter((p) => !p.relevant)].slice(0, input.limit);
}

/** A plural's singular, as FTS5's porter stemmer would match it ("filters" finds "filter"). */
function stem(word: string): string {
  return word.length > 3 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word;
}
