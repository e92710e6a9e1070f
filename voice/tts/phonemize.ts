import { runEspeak } from './espeak.ts';
import { espeakLibraryProblem, libraryClausePhonemes } from './espeak-library.ts';

/**
 * Text to Piper phonemes, the way Piper (rhasspy/piper with piper-phonemize) makes them: espeak-ng IPA per
 * clause, Unicode-decomposed into code points, language-switch flags such as "(fr)…(en)" dropped, and the
 * punctuation that ended each clause put back as a phoneme, because the voices were trained on exactly that.
 *
 * Piper calls libespeak-ng's espeak_TextToPhonemes clause by clause, and so does this (espeak-library.ts) where
 * the library can be opened; the clause ends are found in the text, since that function does not return them.
 * Without the library the espeak-ng program does the same translation (`--ipa` prints one line per clause), with
 * one difference: it runs espeak-ng's intonation pass, which gives a clause without any primary stress one
 * ("Hmm." is hˈəm where Piper has həm, "Yes, sir." sˈɜː for sˌɜː), and it costs a process per sentence
 * (17 ms here against 0.1 ms through the library).
 */

/** One Unicode code point; Piper's phoneme_id_map is keyed by single code points. */
export type Phoneme = string;
export type PhonemeIdMap = ReadonlyMap<Phoneme, readonly number[]>;
export type PhonemeMap = ReadonlyMap<Phoneme, readonly Phoneme[]>;

/** The parts of a logger the TTS modules use; pino's Logger fits. */
export interface TtsLog {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface Clause {
  /** The clause's text, punctuation included, as given to espeak-ng. */
  readonly text: string;
  /**
   * The mark espeak-ng ends the clause on ("…" for three or more dots), or "" where the text ends without one.
   * CLAUSE_ENDS says what Piper makes of it.
   */
  readonly terminator: string;
}

/** What Piper makes of the clause type espeak-ng gives a mark. */
interface ClauseEnd {
  /**
   * The phonemes Piper appends to the clause: only for the plain period, question, exclamation, comma, colon and
   * semicolon types; a mark that needs no space after it ("…", "。") has a type of its own and gets none.
   */
  readonly phonemes: readonly Phoneme[];
  /** Piper starts a new sentence after it. */
  readonly endsSentence: boolean;
  /** espeak-ng ends the clause here even when no space follows ("Wait…what", CJK full-width marks). */
  readonly needsNoSpace: boolean;
}

const PERIOD: ClauseEnd = { phonemes: ['.'], endsSentence: true, needsNoSpace: false };
const QUESTION: ClauseEnd = { phonemes: ['?'], endsSentence: true, needsNoSpace: false };
const EXCLAMATION: ClauseEnd = { phonemes: ['!'], endsSentence: true, needsNoSpace: false };
const COMMA: ClauseEnd = { phonemes: [',', ' '], endsSentence: false, needsNoSpace: false };
const COLON: ClauseEnd = { phonemes: [':', ' '], endsSentence: false, needsNoSpace: false };
const SEMICOLON: ClauseEnd = { phonemes: [';', ' '], endsSentence: false, needsNoSpace: false };
/** espeak-ng's "optional space after" variant of a type: Piper compares types exactly, so it appends nothing. */
const spaceless = (type: ClauseEnd): ClauseEnd => ({ phonemes: [], endsSentence: type.endsSentence, needsNoSpace: true });

/**
 * The marks that end a clause in espeak-ng, with the clause type its Unicode data gives each (ucd-tools'
 * espeak-ng properties, as in the espeak-ng Piper is built with): Latin punctuation, dashes, the ellipsis,
 * inverted marks and CJK full-width punctuation.
 */
const CLAUSE_ENDS: ReadonlyMap<string, ClauseEnd> = new Map([
  ['.', PERIOD],
  ['?', QUESTION],
  ['!', EXCLAMATION],
  [',', COMMA],
  [':', COLON],
  [';', SEMICOLON],
  ['\u203c', EXCLAMATION], // ‼
  ['\u2047', QUESTION], // ⁇
  // Dashes are semicolon clauses ("plan — first": plˈæn; fˈɜːst), but only with a space after them.
  ['\u2013', SEMICOLON],
  ['\u2014', SEMICOLON],
  ['\u2e3a', SEMICOLON],
  ['\u2e3b', SEMICOLON],
  ['\u2026', spaceless(SEMICOLON)],
  ['\u00a1', spaceless(SEMICOLON)],
  ['\u00bf', spaceless(SEMICOLON)],
  ['\u3001', spaceless(COMMA)],
  ['\u3002', spaceless(PERIOD)],
  ['\uff01', spaceless(EXCLAMATION)],
  ['\uff0c', spaceless(COMMA)],
  ['\uff0e', spaceless(PERIOD)],
  ['\uff1a', spaceless(COLON)],
  ['\uff1b', spaceless(SEMICOLON)],
  ['\uff1f', spaceless(QUESTION)],
]);
const ELLIPSIS = '\u2026';

/** espeak-ng's brackets (IsBracket): after one of these a mark ends its clause as after a space. */
const BRACKETS = new Set([...'()[]{}<>"\'`\u00ab\u00bb\u300a\u300b']);
const isBracket = (c: string) => BRACKETS.has(c) || (c >= '\u2014' && c <= '\u201f');

/** Piper's built-in remapping for voices whose espeak-ng output differs from their training data. */
const DEFAULT_PHONEME_MAPS: Record<string, PhonemeMap> = {
  'pt-br': new Map([['c', ['k']]]),
};

/** Whitespace runs become one space: Piper reads a line at a time, so its espeak-ng never sees a newline. */
export function normalizeText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Splits text into clauses where espeak-ng's ReadClause ends them, since Debian's libespeak-ng returns each
 * clause's phonemes but not the mark that ended it (Piper's espeak-ng fork adds that):
 * - a mark ends a clause when a space, a bracket or quote, or the end follows it, or always for the marks that
 *   need no space; never before the clause has a letter or digit ("... and");
 * - in a run of marks ("?!", "!,", "p.m.,") the first decides, and the rest are passed over; three or more dots
 *   are an ellipsis;
 * - a full stop before a lower-case word ("St. in town", "p.m., so") or "'s" ("U.S.A.'s") ends nothing.
 * What follows the last mark (a closing quote, or words without a mark) is a clause of its own, ended by the text.
 */
export function splitClauses(text: string): Clause[] {
  const chars = [...normalizeText(text)];
  const clauses: Clause[] = [];
  let start = 0;
  let hasWord = false;
  for (let i = 0; i < chars.length; i++) {
    let mark = chars[i]!;
    if (/[\p{L}\p{N}]/u.test(mark)) hasWord = true;
    if (!CLAUSE_ENDS.has(mark)) continue;
    let last = i;
    if (mark === '.' && chars[i + 1] === '.' && chars[i + 2] === '.') mark = ELLIPSIS;
    while (last + 1 < chars.length && CLAUSE_ENDS.has(chars[last + 1]!)) last++;
    i = last; // espeak-ng reads the run as one mark, whatever follows
    const type = CLAUSE_ENDS.get(mark)!;
    const next = chars[last + 1];
    if (!hasWord || !(next === undefined || next === ' ' || type.needsNoSpace || isBracket(next))) continue;
    if (mark === '.') {
      const at = next === ' ' ? last + 2 : last + 1;
      if (isLowerCase(chars[at]) || (chars[at] === "'" && chars[at + 1] === 's')) continue;
    }
    clauses.push({ text: chars.slice(start, last + 1).join(''), terminator: mark });
    hasWord = false;
    start = next === ' ' ? last + 2 : last + 1;
  }
  if (start < chars.length) clauses.push({ text: chars.slice(start).join(''), terminator: '' });
  return clauses;
}

function isLowerCase(c: string | undefined): boolean {
  return c !== undefined && c !== c.toUpperCase() && c === c.toLowerCase();
}

/**
 * Piper's sentences from espeak-ng's IPA for each clause and the clause's terminator. Pure, so the rules can be
 * tested apart from espeak-ng. Clauses are joined with nothing between them unless their punctuation adds a
 * space, as in Piper; a sentence ends after . ? or !.
 */
export function assembleSentences(
  clauses: readonly { ipa: string; terminator: string }[],
  phonemeMap?: PhonemeMap,
): Phoneme[][] {
  const sentences: Phoneme[][] = [];
  let sentence: Phoneme[] | undefined;
  for (const { ipa, terminator } of clauses) {
    sentence ??= [];
    let inLanguageFlag = false;
    for (const codePoint of ipa.normalize('NFD')) {
      for (const phoneme of phonemeMap?.get(codePoint) ?? [codePoint]) {
        // "(fr)" ... "(en)" mark words espeak-ng read in another language; Piper never trained on the flags.
        if (inLanguageFlag) inLanguageFlag = phoneme !== ')';
        else if (phoneme === '(') inLanguageFlag = true;
        else sentence.push(phoneme);
      }
    }
    const end = CLAUSE_ENDS.get(terminator);
    sentence.push(...(end?.phonemes ?? []));
    // A clause the text ends also ends its sentence, here as in Piper.
    if (!end || end.endsSentence) {
      sentences.push(sentence);
      sentence = undefined;
    }
  }
  if (sentence) sentences.push(sentence);
  return sentences.filter((s) => s.length > 0);
}

export interface PhonemizeOptions {
  /** espeak-ng voice from the Piper voice's config (`espeak.voice`). */
  voice: string;
  /** The voice's `phoneme_map`, if any; otherwise Piper's default for the language. */
  phonemeMap?: PhonemeMap;
  signal?: AbortSignal;
  /** The espeak-ng program to run instead of its library (which is used when it can be opened). */
  command?: string;
}

/** Piper phonemes for `text`, one array per sentence. */
export async function phonemize(text: string, options: PhonemizeOptions): Promise<Phoneme[][]> {
  const normalized = normalizeText(text);
  const clauses = splitClauses(normalized);
  if (clauses.length === 0) return [];
  const phonemeMap = options.phonemeMap ?? DEFAULT_PHONEME_MAPS[options.voice];
  // espeak-ng's library as Piper calls it where it can be opened; the program otherwise, or when one is named.
  const viaLibrary = options.command === undefined && espeakLibraryProblem() === undefined;
  const run = viaLibrary
    ? async (input: string) => libraryClausePhonemes(input, options.voice)
    : (input: string) =>
        runEspeak(['-q', '--ipa', '-v', options.voice], { input, signal: options.signal, command: options.command }).then((out) =>
          out.toString('utf8').replace(/\n$/, '').split('\n'),
        );

  // One pass over the whole text when espeak-ng ended clauses where we did (the usual case); otherwise one per
  // clause, so a disagreement about where a clause ends cannot shift punctuation onto the wrong clause.
  const lines = await run(normalized);
  let ipa: string[];
  if (lines.length === clauses.length) {
    ipa = lines;
  } else {
    // Where espeak-ng splits one of our clauses (a very long one), Piper too joins the parts with nothing between.
    const perClause = await Promise.all(clauses.map((c) => run(c.text)));
    ipa = perClause.map((clauseLines) => clauseLines.join(''));
  }
  return assembleSentences(
    clauses.map((c, i) => ({ ipa: ipa[i]!, terminator: c.terminator })),
    phonemeMap,
  );
}

/**
 * Piper's "text" phoneme type: the case-folded, decomposed characters themselves, as one sentence.
 */
export function textPhonemes(text: string, phonemeMap?: PhonemeMap): Phoneme[][] {
  const phonemes = [...normalizeText(text).toLowerCase().normalize('NFD')].flatMap((c) => phonemeMap?.get(c) ?? [c]);
  return phonemes.length > 0 ? [phonemes] : [];
}

export const BOS = '^';
export const EOS = '$';
export const PAD = '_';

export interface PhonemeIds {
  readonly ids: number[];
  /** Phonemes the voice has no id for, with how often each was skipped. */
  readonly missing: Map<Phoneme, number>;
}

/**
 * Piper's id sequence for one sentence: "^", pad, then each phoneme followed by a pad, then "$". Phonemes the
 * voice was not trained on are skipped, as Piper does, and reported to the caller.
 */
export function phonemesToIds(phonemes: readonly Phoneme[], idMap: PhonemeIdMap): PhonemeIds {
  const idsOf = (symbol: string) => {
    const ids = idMap.get(symbol);
    if (!ids) throw new Error(`phoneme_id_map has no "${symbol}"`);
    return ids;
  };
  const pad = idsOf(PAD);
  const ids = [...idsOf(BOS), ...pad];
  const missing = new Map<Phoneme, number>();
  for (const phoneme of phonemes) {
    const mapped = idMap.get(phoneme);
    if (!mapped) {
      missing.set(phoneme, (missing.get(phoneme) ?? 0) + 1);
      continue;
    }
    ids.push(...mapped, ...pad);
  }
  ids.push(...idsOf(EOS));
  return { ids, missing };
}

/** Missing phonemes as "ɬ" (U+026C) ×2 for a log line. */
export function describeMissing(missing: ReadonlyMap<Phoneme, number>): string {
  return [...missing]
    .map(([p, n]) => `"${p}" (U+${p.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) ×${n}`)
    .join(', ');
}
