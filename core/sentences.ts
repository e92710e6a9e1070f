/**
 * Cuts streamed LLM text into sentences so each one can be spoken while the model writes the next. The first
 * piece matters most for latency, so a long first clause is released at a comma too.
 */

/** Always abbreviations: a sentence does not end on these. */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'fig', 'mt', 'inc', 'ltd', 'dept',
]);

/**
 * Abbreviations that are also words ("no", "sun", "sat", "min"), or months a sentence may end on: abbreviations only
 * when a number or a lower-case word follows ("No. 5", "on Jan. 5", "Sun. 3 p.m.", "10 min. later").
 */
const ABBREVIATIONS_BEFORE_NUMBERS = new Set([
  'no', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'mon', 'tue', 'tues', 'wed',
  'thu', 'thurs', 'fri', 'sat', 'sun', 'min', 'max', 'avg', 'tel', 'est', 'approx',
]);

export interface SentenceSplitterOptions {
  /** Release the first clause at a comma once it is at least this long (characters). */
  firstClauseMinChars?: number;
  /** Any sentence longer than this is released at the next comma or space. */
  maxChars?: number;
}

export class SentenceSplitter {
  #buffer = '';
  #released = 0;
  /** The number of the last item of a list written on one line ("1. Apples 2. Pears"), 0 outside one. */
  #lastListItem = 0;
  readonly #firstClauseMinChars: number;
  readonly #maxChars: number;

  constructor(options: SentenceSplitterOptions = {}) {
    this.#firstClauseMinChars = options.firstClauseMinChars ?? 60;
    this.#maxChars = options.maxChars ?? 220;
  }

  /** Adds streamed text; returns the sentences it completed. */
  push(text: string): string[] {
    this.#buffer += text;
    const out: string[] = [];
    for (let cut = this.#findCut(); cut > 0; cut = this.#findCut()) {
      const sentence = this.#buffer.slice(0, cut).trim();
      this.#buffer = this.#buffer.slice(cut);
      if (speakable(sentence)) {
        out.push(sentence);
        this.#released++;
      }
    }
    return out;
  }

  /** The rest of the text once the stream has ended. */
  flush(): string[] {
    const rest = this.#buffer.trim();
    this.#buffer = '';
    return speakable(rest) ? [rest] : [];
  }

  #findCut(): number {
    const text = this.#buffer;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      const next = text[i + 1];
      if (ch === '\n') {
        this.#lastListItem = 0;
        return i + 1;
      }
      if ((ch === '.' || ch === '!' || ch === '?' || ch === ';' || ch === ':') && next !== undefined && /\s/.test(next)) {
        if (ch !== '.') {
          this.#lastListItem = 0;
          return i + 1;
        }
        if (this.#isListNumber(text, i)) continue;
        const listItem = this.#inlineListNumber(text, i);
        if (listItem !== undefined) return listItem;
        const abbreviation = this.#isAbbreviation(text, i, /^\s*(\S)/.exec(text.slice(i + 1))?.[1]);
        // Some abbreviations are told from a sentence's end only by what follows: wait until it is there.
        if (abbreviation === undefined) return 0;
        if (abbreviation) continue;
        this.#lastListItem = /\s1$/.test(text.slice(0, i)) ? 1 : 0;
        return i + 1;
      }
    }
    const commaCut = this.#released === 0 ? this.#firstClauseMinChars : this.#maxChars;
    if (text.length >= commaCut) {
      const comma = text.lastIndexOf(', ', this.#maxChars);
      if (comma >= commaCut / 2) return comma + 1;
    }
    if (text.length >= this.#maxChars) {
      const space = text.lastIndexOf(' ', this.#maxChars);
      if (space > 0) return space + 1;
    }
    return 0;
  }

  /**
   * Decimals never reach here (a cut needs whitespace after the dot); initials, titles and dotted abbreviations do:
   * "Dr. Smith", "on Jan. 5", "at 3 p.m. tomorrow", "the U.S. economy". A sentence starts with a capital or a digit,
   * so a dotted abbreviation ("p.m.", "A.I.") followed by a lower-case word is inside one. Undefined: it depends on
   * the next word, which has not been written yet.
   */
  #isAbbreviation(text: string, dot: number, following: string | undefined): boolean | undefined {
    const word = /([A-Za-z.]+)$/.exec(text.slice(0, dot))?.[1];
    if (word === undefined) return false;
    const lower = word.toLowerCase();
    if (ABBREVIATIONS.has(lower) || /^[a-z]$/.test(lower)) return true;
    if (!ABBREVIATIONS_BEFORE_NUMBERS.has(lower) && !/^(?:[a-z]\.)+[a-z]$/.test(lower)) return false;
    return following === undefined ? undefined : /[\p{Ll}\d]/u.test(following);
  }

  /** "1." opening a numbered item (at the start of the text or of a line): the item goes on after it. */
  #isListNumber(text: string, dot: number): boolean {
    return /(?:^|\n)\s*\d{1,2}$/.test(text.slice(0, dot));
  }

  /**
   * "Apples 2. Pears 3. Plums": a list written on one line. The item number belongs to the item after it, so the
   * sentence is cut before the number, not after it. Returns where to cut, or undefined.
   */
  #inlineListNumber(text: string, dot: number): number | undefined {
    const before = /\s(\d{1,2})$/.exec(text.slice(0, dot));
    const item = Number(before?.[1]);
    // Only the item after the last one ("1." then "2."): a list, not "I am 2. Then".
    if (!before || item !== this.#lastListItem + 1 || item < 2) return undefined;
    this.#lastListItem = item;
    return dot - before[1]!.length;
  }
}

/** True when the text has something to say (not only punctuation, markup or whitespace). */
export function speakable(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text);
}

/**
 * Text as it should be spoken: markdown, list bullets, code fences, URLs and emoji removed, even though the
 * system prompt asks for none, because small models slip; dashes made pauses.
 */
export function toSpokenText(text: string): string {
  return text
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    // A link's trailing punctuation is the sentence's.
    .replace(/https?:\/\/\S+?(?=[.,;:!?)\]]*(?:\s|$))/g, 'a link')
    .replace(/^\s{0,3}(#{1,6}|[-*+•]|\d+[.)])\s+/gm, '')
    .replace(/(\*\*|__|\*|_|~~)(?=\S)([^*_~]+?)\1/g, '$2')
    // Between numbers a dash is a range.
    .replace(/(\d) ?[–—] ?(?=\d)/g, '$1 to ')
    // A clock time's minutes under ten: espeak-ng would read "7:05" as "seven zero five", "7:00" as "seven zero zero".
    .replace(/\b(\d{1,2}):00\b(?!:\d)/g, '$1')
    .replace(/\b(\d{1,2}):0([1-9])\b(?!:\d)/g, '$1 oh $2')
    // Between words a dash is a pause, and espeak-ng (Piper's phonemes, and the espeak-ng voice) makes one only of
    // an en or em dash with a space after it (Piper's "; "): a closed em dash ("plan—first") and typed ones
    // (" - ", " -- ", "plan--first"), which it would run together, are made that dash. Hyphens stay ("-5", "Wi-Fi").
    .replace(/\s*—\s*|\s+--?\s+|(?<=\p{L})--(?=\p{L})/gu, ' — ')
    .replace(/[\p{Extended_Pictographic}\u{FE0F}]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}
