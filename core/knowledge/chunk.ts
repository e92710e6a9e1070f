import type { ExtractedDocument, TextBlock } from './extract.ts';

/**
 * Passages: what is embedded, searched and read to the LLM. Built by structure: a passage never spans two headings
 * or two pages (so its source is exact), gathers whole paragraphs up to `maxWords`, splits a longer paragraph at
 * sentence ends, and starts with the last sentences of the passage before it (`overlapWords`), so a fact that
 * straddles a boundary is whole in at least one passage.
 */
export interface Passage {
  readonly text: string;
  readonly heading?: string;
  readonly page?: number;
}

export interface ChunkOptions {
  /** ~0.75 words a token: 300 words is about 400 tokens. */
  readonly maxWords: number;
  readonly overlapWords: number;
}

export function chunkDocument(document: ExtractedDocument, options: ChunkOptions): Passage[] {
  const passages: Passage[] = [];
  for (const section of sections(document.blocks)) {
    let sentences: string[] = [];
    let words = 0;
    let fresh = 0;
    const emit = () => {
      if (fresh === 0) return;
      passages.push({ text: sentences.join(' '), ...(section.heading ? { heading: section.heading } : {}), ...(section.page ? { page: section.page } : {}) });
      // Carry the tail over as the next passage's start.
      const carried: string[] = [];
      let carriedWords = 0;
      for (let i = sentences.length - 1; i > 0; i--) {
        const count = wordCount(sentences[i]!);
        if (carriedWords + count > options.overlapWords) break;
        carried.unshift(sentences[i]!);
        carriedWords += count;
      }
      sentences = carried;
      words = carriedWords;
      fresh = 0;
    };
    for (const block of section.blocks) {
      const pieces = sentencesOf(block.text, options.maxWords);
      for (const piece of pieces) {
        const count = wordCount(piece);
        if (fresh > 0 && words + count > options.maxWords) emit();
        sentences.push(piece);
        words += count;
        fresh += count;
      }
    }
    emit();
  }
  return passages;
}

interface Section {
  readonly heading: string | undefined;
  readonly page: number | undefined;
  readonly blocks: TextBlock[];
}

function sections(blocks: readonly TextBlock[]): Section[] {
  const out: Section[] = [];
  for (const block of blocks) {
    const last = out[out.length - 1];
    if (last && last.heading === block.heading && last.page === block.page) last.blocks.push(block);
    else out.push({ heading: block.heading, page: block.page, blocks: [block] });
  }
  return out;
}

/** A paragraph as sentences (a sentence longer than a passage as runs of words), so overlap can carry whole sentences. */
function sentencesOf(text: string, maxWords: number): string[] {
  const out: string[] = [];
  // A sentence ends at . ! or ? before a space, so "1.5 bar" and "v2.1" stay whole.
  for (const sentence of text.split(/(?<=[.!?]["')\]]*)\s+/)) {
    const words = sentence.trim().split(/\s+/).filter(Boolean);
    for (let i = 0; i < words.length; i += maxWords) out.push(words.slice(i, i + maxWords).join(' '));
  }
  return out.filter(Boolean);
}

export function wordCount(text: string): number {
  let count = 0;
  for (const _ of text.matchAll(/\S+/g)) count++;
  return count;
}
