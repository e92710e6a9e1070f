import path from 'node:path';
import type JSZip from 'jszip';
import { CorruptDocumentError, decodeEntities, htmlBlocks, type ExtractedDocument, type TextBlock } from './extract.ts';

/**
 * EPUB books: a zip (read with jszip) whose META-INF/container.xml names the package document (OPF); the OPF's
 * spine lists the chapters (XHTML) in reading order. Each chapter is read like an HTML file (its headings become
 * the passages' headings); text before a chapter's first heading is under the chapter's name from the table of
 * contents (EPUB 3 nav or EPUB 2 NCX), else its <title>. The book's title is the OPF's dc:title. Images, styles and
 * fonts are not read; a chapter locked by DRM (listed in META-INF/encryption.xml) makes the book a clear skip.
 */

/** Text a book may unpack to (all its chapters together): a zip that claims more is damaged or a zip bomb. */
export const MAX_EPUB_TEXT_BYTES = 64 * 1024 * 1024;

/** The font obfuscation of IDPF and Adobe: fonts only, the text is readable. */
const FONT_OBFUSCATION = /idpf\.org\/2008\/embedding|ns\.adobe\.com\/pdf\/enc#RC/;

const HTML_TYPES = new Set(['application/xhtml+xml', 'text/html']);

interface ManifestItem {
  readonly href: string;
  readonly mediaType: string;
  readonly properties: string;
}

export async function epubBlocks(bytes: Buffer): Promise<ExtractedDocument> {
  const JSZipClass = (await import('jszip')).default;
  let zip: JSZip;
  try {
    zip = await JSZipClass.loadAsync(bytes, { checkCRC32: true });
  } catch (error) {
    throw new CorruptDocumentError(`it is not a readable EPUB book: the zip inside is damaged (${(error as Error).message})`, { cause: error });
  }
  const budget = { left: MAX_EPUB_TEXT_BYTES };
  const container = await entryText(zip, 'META-INF/container.xml', budget);
  if (container === undefined) throw new CorruptDocumentError('it is not an EPUB book: META-INF/container.xml is missing');
  const opfPath = attributes(/<(?:\w+:)?rootfile\b[^>]*>/i.exec(container)?.[0] ?? '')['full-path'];
  if (!opfPath) throw new CorruptDocumentError('it is not a readable EPUB book: its container.xml names no package document');
  const opf = await entryText(zip, opfPath, budget);
  if (opf === undefined) throw new CorruptDocumentError(`it is not a readable EPUB book: its package document ${opfPath} is missing`);

  const base = path.posix.dirname(opfPath);
  const manifest = new Map<string, ManifestItem>();
  for (const tag of opf.match(/<(?:\w+:)?item\b[^>]*>/gi) ?? []) {
    const a = attributes(tag);
    if (a.id && a.href) manifest.set(a.id, { href: resolveHref(base, a.href), mediaType: (a['media-type'] ?? '').toLowerCase(), properties: a.properties ?? '' });
  }
  const spine = (/<(?:\w+:)?spine\b[^>]*>([\s\S]*?)<\/(?:\w+:)?spine\s*>/i.exec(opf)?.[1] ?? '').match(/<(?:\w+:)?itemref\b[^>]*>/gi) ?? [];
  const chapters = spine
    .map((tag) => manifest.get(attributes(tag).idref ?? ''))
    .filter((item): item is ManifestItem => item !== undefined && HTML_TYPES.has(item.mediaType) && !/\bnav\b/.test(item.properties));
  if (chapters.length === 0) throw new CorruptDocumentError('it is not a readable EPUB book: its spine lists no chapters');

  await refuseDrm(zip, new Set(chapters.map((c) => c.href)), budget);
  const labels = await tableOfContents(zip, opf, manifest, budget);
  const blocks: TextBlock[] = [];
  for (const chapter of chapters) {
    const html = await entryText(zip, chapter.href, budget);
    // A chapter the spine names but the zip lacks: the others are still read.
    if (html === undefined) continue;
    const document = htmlBlocks(html);
    const name = labels.get(chapter.href) ?? document.title;
    for (const block of document.blocks) blocks.push(block.heading || !name ? block : { ...block, heading: name });
  }
  const title = decodeEntities((/<dc:title\b[^>]*>([\s\S]*?)<\/dc:title\s*>/i.exec(opf)?.[1] ?? '').replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
  return { ...(title ? { title } : {}), blocks };
}

/**
 * A zip entry as text, within what is left of the book's budget (counted as it is inflated, so a zip bomb stops
 * at the limit instead of filling memory); undefined when there is no such entry.
 */
async function entryText(zip: JSZip, name: string, budget: { left: number }): Promise<string | undefined> {
  const file = zip.file(name) ?? zip.file(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'i'))[0];
  if (!file || file.dir) return undefined;
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const stream = file.nodeStream('nodebuffer');
    stream.on('data', (chunk: Buffer) => {
      budget.left -= chunk.length;
      if (budget.left < 0) {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).pause();
        reject(new CorruptDocumentError(`it unpacks to more than ${MAX_EPUB_TEXT_BYTES / 1024 / 1024} MB of text, so it is damaged or not a real book`));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', (error: Error) => reject(new CorruptDocumentError(`it is not a readable EPUB book: ${name} is damaged (${error.message})`, { cause: error })));
    stream.on('end', () => resolve());
  });
  return Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
}

/** Chapters encrypted by DRM cannot be read; say so instead of indexing ciphertext. */
async function refuseDrm(zip: JSZip, chapters: ReadonlySet<string>, budget: { left: number }): Promise<void> {
  const encryption = await entryText(zip, 'META-INF/encryption.xml', budget);
  if (!encryption) return;
  for (const data of encryption.match(/<(?:\w+:)?EncryptedData\b[\s\S]*?<\/(?:\w+:)?EncryptedData\s*>/gi) ?? []) {
    const algorithm = attributes(/<(?:\w+:)?EncryptionMethod\b[^>]*>/i.exec(data)?.[0] ?? '').Algorithm ?? '';
    const uri = attributes(/<(?:\w+:)?CipherReference\b[^>]*>/i.exec(data)?.[0] ?? '').URI;
    if (uri && !FONT_OBFUSCATION.test(algorithm) && chapters.has(resolveHref('', uri))) {
      throw new CorruptDocumentError('it is locked with DRM (its chapters are encrypted), so its text cannot be read; a DRM-free copy of the book can be');
    }
  }
}

/** Chapter file → its name in the table of contents: EPUB 3's nav document, else EPUB 2's NCX. */
async function tableOfContents(zip: JSZip, opf: string, manifest: ReadonlyMap<string, ManifestItem>, budget: { left: number }): Promise<Map<string, string>> {
  const labels = new Map<string, string>();
  const add = (from: string, href: string, label: string) => {
    const file = resolveHref(path.posix.dirname(from), href);
    const text = decodeEntities(label.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
    // The first entry for a file names it (later ones point into it: #sections).
    if (text && !labels.has(file)) labels.set(file, text);
  };
  const nav = [...manifest.values()].find((item) => /\bnav\b/.test(item.properties));
  const navText = nav ? await entryText(zip, nav.href, budget) : undefined;
  if (nav && navText) {
    const toc = /<nav\b[^>]*epub:type\s*=\s*["'][^"']*\btoc\b[^"']*["'][^>]*>([\s\S]*?)<\/nav\s*>/i.exec(navText)?.[1] ?? navText;
    for (const match of toc.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi)) {
      const href = attributes(`<a ${match[1]}>`).href;
      if (href) add(nav.href, href, match[2]!);
    }
    if (labels.size > 0) return labels;
  }
  const ncxId = attributes(/<(?:\w+:)?spine\b[^>]*>/i.exec(opf)?.[0] ?? '').toc;
  const ncx = (ncxId ? manifest.get(ncxId) : undefined) ?? [...manifest.values()].find((item) => item.mediaType === 'application/x-dtbncx+xml');
  const ncxText = ncx ? await entryText(zip, ncx.href, budget) : undefined;
  if (ncx && ncxText) {
    for (const point of ncxText.matchAll(/<navLabel\b[^>]*>[\s\S]*?<text\b[^>]*>([\s\S]*?)<\/text\s*>[\s\S]*?<\/navLabel\s*>\s*<content\b([^>]*)>/gi)) {
      const src = attributes(`<content ${point[2]}>`).src;
      if (src) add(ncx.href, src, point[1]!);
    }
  }
  return labels;
}

/** An href in the book as the zip entry it names: relative to `base`, percent-decoded, without its #fragment. */
function resolveHref(base: string, href: string): string {
  let decoded = href.split('#')[0]!;
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // a stray % stays as it is
  }
  return path.posix.normalize(path.posix.join(base, decoded)).replace(/^(\.\.\/)+|^\.\//, '');
}

/** The attributes of one XML start tag (namespace prefixes dropped: opf:idref is idref). */
function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of tag.matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    const name = match[1]!.replace(/^(?!xml:)[\w.-]+:/, '');
    out[name] = decodeEntities(match[2] ?? match[3] ?? '');
  }
  return out;
}
