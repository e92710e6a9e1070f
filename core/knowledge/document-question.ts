import { contentWords } from './hybrid-search.ts';

/**
 * Whether a question is about the household's documents: it says so ("the manual", "my documents", "the letter",
 * "according to…"), or it names one of the indexed documents by a word of its title ("what does the *boiler*
 * say…", "when does the car *insurance* renew").
 */
const DOCUMENT_WORDS =
  /\b(documents?|docs|files?|manuals?|letters?|pdfs?|policy|policies|contract|invoices?|receipts?|warranty|guarantee|instructions|handbook|guide|leaflet|e-?books?|books?|chapters?|notes|recipes?|statement|according to|what does (the|my) \w+( \w+)? say|in my (documents|files|papers))\b/i;

/** Title words too common to mean a document ("the new", "2024"). */
const TOO_COMMON = new Set(['home', 'house', 'new', 'old', 'copy', 'final', 'draft', 'scan', 'untitled', 'document', 'file', 'from', 'with', 'your', 'about']);

export function mentionsDocuments(question: string, titles: readonly string[]): boolean {
  if (DOCUMENT_WORDS.test(question)) return true;
  const asked = new Set(contentWords(question));
  return titles.some((title) => contentWords(title).some((word) => word.length >= 4 && !/^\d+$/.test(word) && !TOO_COMMON.has(word) && asked.has(word)));
}

/**
 * The question as asked: the skills' stage puts the date and matching household notes in front of it in brackets
 * ("[Friday 4 December, 10:14.] what does…"), which must not steer the document search.
 */
export function withoutContext(text: string): string {
  return text.replace(/^\[[^\]]*\]\s*/, '');
}
