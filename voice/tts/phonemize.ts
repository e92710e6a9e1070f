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
   * What Piper reads back as the character before the next clause: the clause's final punctuation mark, or its
   * last character when text simply ends. Only . ? ! , : ; become phonemes.
   */
  readonly terminator: string;
}

/** Punctuation after which espeak-ng ends a clause when a space, the end, or a closing mark follows. */
const CLAUSE_PUNCTUATION = new Set([...'.,?!:;', '\u2026', '\u2013', '\u2014', '\u00a1', '\u00bf']);
/** Full-width CJK punctuation ends a clause with nothing after it. */
const CLAUSE_PUNCTUATION_IN_WORD = new Set([...'\u3001\u3002\uff01\uff0c\uff0e\uff1a\uff1b\uff1f']);
const CLOSING_MARKS = new Set([...'"\')]}\u201d\u2019\u00bb\u300d']);

/** The ASCII punctuation espeak's clause types map to, and what Piper appends for each. */
const TERMINATOR_PHONEMES: Record<string, readonly Phoneme[]> = {
  '.': ['.'],
  '?': ['?'],
  '!': ['!'],
  ',': [',', ' '],
  ':': [':', ' '],
  ';': [';', ' '],
  // Piper's espeak-ng reports a clause ended by a dash as a semicolon clause ("plan — first": plˈæn; fˈɜːst).
  '\u2013': [';', ' '],
  '\u2014': [';', ' '],
};
const SENTENCE_ENDS = new Set(['.', '?', '!']);

/** Piper's built-in remapping for voices whose espeak-ng output differs from their training data. */
const DEFAULT_PHONEME_MAPS: Record<string, PhonemeMap> = {
  'pt-br': new Map([['c', ['k']]]),
};

/** Whitespace runs become one space: Piper reads a line at a time, so its espeak-ng never sees a newline. */
export function normalizeText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Splits text where espeak-ng ends clauses: after sentence and clause punctuation followed by a space, a closing
 * mark or the end; not after a single "." before a lower-case word (an abbreviation: "St. in town"), nor inside
 * numbers ("3.5", "10:30"). Runs such as "?!" and "..." end once, at their last mark. A closing quote or bracket
 * after the last mark of the text becomes an empty clause of its own, as espeak-ng makes it.
 */
export function splitClauses(text: string): Clause[] {
  const chars = [...normalizeText(text)];
  const clauses: Clause[] = [];
  let start = 0;
  let hasWord = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (!CLAUSE_PUNCTUATION.has(c) && !CLAUSE_PUNCTUATION_IN_WORD.has(c)) {
      hasWord ||= /[\p{L}\p{N}]/u.test(c);
      continue;
    }
    const next = chars[i + 1];
    // Punctuation before any word (". World", "... and") is passed over, not a clause of its own.
    if (!hasWord) continue;
    if (!CLAUSE_PUNCTUATION_IN_WORD.has(c)) {
      if (next !== undefined && CLAUSE_PUNCTUATION.has(next)) continue; // the run ends later
      if (next !== undefined && next !== ' ' && !CLOSING_MARKS.has(next)) continue;
      if (c === '.' && chars[i - 1] !== '.' && next === ' ' && isLowerCase(chars[i + 2])) continue;
    }
    clauses.push({ text: chars.slice(start, i + 1).join(''), terminator: c });
    hasWord = false;
    start = i + 1;
    while (start < chars.length && chars[start] === ' ') start++;
    if (start < chars.length && chars.slice(start).every((ch) => CLOSING_MARKS.has(ch) || ch === ' ')) {
      clauses.push({ text: chars.slice(start).join(''), terminator: chars.at(-1)! });
      start = chars.length;
    }
    i = start - 1;
  }
  if (start < chars.length) clauses.push({ text: chars.slice(start).join(''), terminator: chars.at(-1)! });
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
    sentence.push(...(TERMINATOR_PHONEMES[terminator] ?? []));
    if (SENTENCE_ENDS.has(terminator)) {
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
