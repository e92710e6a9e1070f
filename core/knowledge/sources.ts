import path from 'node:path';
import type { KnowledgePassage } from '../protocol/run-events.ts';
import type { FoundPassage } from './hybrid-search.ts';

/** How a passage's source is said: "the boiler manual, page 2" / "car insurance, section Renewal". */
export function sourceName(passage: Pick<FoundPassage, 'title' | 'path' | 'page' | 'heading'>): string {
  const title = passage.title ?? path.basename(passage.path);
  if (passage.page) return `${title}, page ${passage.page}`;
  return passage.heading && passage.heading !== title ? `${title}, section "${passage.heading}"` : title;
}

const SNIPPET_CHARS = 240;

/** A passage as the screens show it. */
export function toWire(passage: FoundPassage): KnowledgePassage {
  const snippet = passage.text.length > SNIPPET_CHARS ? `${passage.text.slice(0, SNIPPET_CHARS).replace(/\s+\S*$/, '')}…` : passage.text;
  return {
    document: passage.fileId,
    file: path.basename(passage.path),
    title: passage.title ?? path.basename(passage.path),
    ...(passage.page ? { page: passage.page } : {}),
    ...(passage.heading ? { heading: passage.heading } : {}),
    snippet,
  };
}
