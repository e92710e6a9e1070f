import fs from 'node:fs/promises';
import type { DocumentKind } from './file-policy.ts';

/**
 * A document's text as a sequence of blocks (paragraphs, list items, a PDF page's lines), each with the heading
 * it sits under and the page it is on, which is what a passage later names as its source.
 */
export interface TextBlock {
  readonly text: string;
  readonly heading?: string;
  /** 1-based; PDFs only. */
  readonly page?: number;
}

export interface ExtractedDocument {
  /** The document's own title where it has one (an HTML <title>, a Markdown # heading). */
  readonly title?: string;
  readonly blocks: readonly TextBlock[];
}

/** A file that is not what its name says, or is damaged: skipped with this reason, never a crash. */
export class CorruptDocumentError extends Error {
  override name = 'CorruptDocumentError';
}

export async function extractDocument(file: string, kind: DocumentKind): Promise<ExtractedDocument> {
  switch (kind) {
    case 'text':
      return { blocks: paragraphs(await readUtf8(file)).map((text) => ({ text })) };
    case 'markdown':
      return markdownBlocks(await readUtf8(file));
    case 'html':
      return htmlBlocks(await readUtf8(file));
    case 'pdf':
      return pdfBlocks(await fs.readFile(file));
    case 'docx':
      return docxBlocks(file);
    case 'epub':
      return (await import('./epub.ts')).epubBlocks(await fs.readFile(file));
  }
}

async function readUtf8(file: string): Promise<string> {
  const bytes = await fs.readFile(file);
  // A NUL byte in the first few KB: a binary file with a text name.
  if (bytes.subarray(0, 8192).includes(0)) throw new CorruptDocumentError('it holds binary data, not text');
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}

function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

export function markdownBlocks(source: string): ExtractedDocument {
  const blocks: TextBlock[] = [];
  let heading: string | undefined;
  let title: string | undefined;
  let lines: string[] = [];
  let fenced = false;
  const flush = () => {
    const text = inlineMarkdown(lines.join(' ')).replace(/\s+/g, ' ').trim();
    if (text) blocks.push({ text, ...(heading ? { heading } : {}) });
    lines = [];
  };
  for (const line of source.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    const match = fenced ? null : /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (match) {
      flush();
      heading = inlineMarkdown(match[2]!).trim();
      if (match[1] === '#' && !title) title = heading;
    } else if (!fenced && (line.trim() === '' || /^\s*([-*+]|\d+[.)])\s+/.test(line))) {
      // A blank line ends a paragraph; a list item starts a block of its own.
      flush();
      if (line.trim()) lines.push(line.replace(/^\s*([-*+]|\d+[.)])\s+/, ''));
    } else {
      lines.push(line);
    }
  }
  flush();
  return { ...(title ? { title } : {}), blocks };
}

/** Links and images keep their words, emphasis and code marks go. */
function inlineMarkdown(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__|\*|_|`)(\S(?:.*?\S)?)\1/g, '$2')
    .replace(/^>\s?/, '');
}

const BLOCK_TAGS = /^(p|div|li|tr|td|th|br|section|article|blockquote|pre|dd|dt|table|ul|ol|header|footer|main|nav|aside|figcaption|caption)$/i;

/** HTML (and DOCX through mammoth's HTML, and EPUB chapters) as blocks: h1–h6 become headings, block elements end paragraphs. */
export function htmlBlocks(html: string): ExtractedDocument {
  const cleaned = html.replace(/<!--[\s\S]*?-->/g, '').replace(/<(script|style|template|noscript|svg)\b[\s\S]*?<\/\1\s*>/gi, '');
  const titleMatch = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(cleaned);
  const body = cleaned.replace(/<head\b[\s\S]*?<\/head\s*>/i, '');
  const blocks: TextBlock[] = [];
  let heading: string | undefined;
  let text = '';
  let inHeading = false;
  const flush = () => {
    const value = decodeEntities(text).replace(/\s+/g, ' ').trim();
    text = '';
    if (!value) return;
    if (inHeading) heading = value;
    else blocks.push({ text: value, ...(heading ? { heading } : {}) });
  };
  for (const piece of body.split(/(<[^>]*>)/)) {
    const tag = /^<\/?\s*([a-z0-9]+)/i.exec(piece);
    if (!tag) {
      if (!piece.startsWith('<')) text += piece;
      continue;
    }
    const name = tag[1]!;
    if (/^h[1-6]$/i.test(name)) {
      flush();
      inHeading = !piece.startsWith('</');
    } else if (BLOCK_TAGS.test(name)) {
      flush();
    }
  }
  flush();
  const title = titleMatch ? decodeEntities(titleMatch[1]!).replace(/\s+/g, ' ').trim() : undefined;
  return { ...(title ? { title } : {}), blocks };
}

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—', hellip: '…', rsquo: '’', lsquo: '‘', ldquo: '“', rdquo: '”', deg: '°', euro: '€', pound: '£' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[entity.toLowerCase()] ?? whole;
  });
}

async function pdfBlocks(bytes: Buffer): Promise<ExtractedDocument> {
  const { getDocumentProxy, extractText } = await pdfJs();
  let pages: string[];
  try {
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    try {
      pages = (await extractText(pdf, { mergePages: false })).text;
    } finally {
      await pdf.destroy();
    }
  } catch (error) {
    throw new CorruptDocumentError(`pdf.js cannot read it (${(error as Error).message})`, { cause: error });
  }
  const blocks: TextBlock[] = [];
  pages.forEach((pageText, index) => {
    for (const text of paragraphs(pageText.replace(/([^\n])\n(?=[^\n])/g, '$1\n\n'))) blocks.push({ text, page: index + 1 });
  });
  return { blocks: mergeLines(blocks) };
}

let unpdf: Promise<typeof import('unpdf')> | undefined;

/**
 * unpdf with its bundled pdf.js handed to it: unpdf 1.0.0's own lookup expects a resolvePDFJS() export that the
 * pdf.js build it ships does not have ("resolvePDFJS is not a function").
 */
function pdfJs(): Promise<typeof import('unpdf')> {
  unpdf ??= import('unpdf').then(async (module) => {
    // pdf.js warns with console.log while it loads in Node ("use the legacy build"): stdout is for answers and
    // --json, so that goes to stderr.
    const log = console.log;
    console.log = (...args: unknown[]) => console.error(...args);
    try {
      await module.definePDFJSModule(() => import('unpdf/pdfjs'));
    } finally {
      console.log = log;
    }
    return module;
  });
  return unpdf;
}

/** pdf.js gives lines, not paragraphs: lines of one page join until one ends a sentence. */
function mergeLines(lines: TextBlock[]): TextBlock[] {
  const out: TextBlock[] = [];
  for (const line of lines) {
    const last = out[out.length - 1];
    if (last && last.page === line.page && !/[.!?:]$/.test(last.text) && last.text.length < 1500) out[out.length - 1] = { ...last, text: `${last.text} ${line.text}` };
    else out.push(line);
  }
  return out;
}

async function docxBlocks(file: string): Promise<ExtractedDocument> {
  const mammoth = (await import('mammoth')).default;
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ path: file })).value;
  } catch (error) {
    throw new CorruptDocumentError(`it is not a readable Word document (${(error as Error).message})`, { cause: error });
  }
  return htmlBlocks(html);
}
