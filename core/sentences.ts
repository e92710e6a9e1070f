/**
 * Cuts streamed LLM text into sentences so each one can be spoken while the model writes the next. The first
 * piece matters most for latency, so a long first clause is released at a comma too.
 */

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'no', 'fig', 'mt', 'inc', 'ltd',
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
      if (ch === '\n') return i + 1;
      if ((ch === '.' || ch === '!' || ch === '?' || ch === ';' || ch === ':') && next !== undefined && /\s/.test(next)) {
        if (ch === '.' && this.#isAbbreviation(text, i)) continue;
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

  #isAbbreviation(text: string, dot: number): boolean {
    // Decimals never reach here (a cut needs whitespace after the dot); initials and titles do.
    const word = /([A-Za-z.]+)$/.exec(text.slice(0, dot))?.[1]?.toLowerCase();
    return word !== undefined && (ABBREVIATIONS.has(word) || /^[a-z]$/.test(word));
  }
}

/** True when the text has something to say (not only punctuation, markup or whitespace). */
export function speakable(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text);
}

/**
 * Text as it should be spoken: markdown, list bullets, code fences, URLs and emoji removed, even though the
 * system prompt asks for none, because small models slip.
 */
export function toSpokenText(text: string): string {
  return text
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/https?:\/\/\S+/g, 'a link')
    .replace(/^\s{0,3}(#{1,6}|[-*+•]|\d+[.)])\s+/gm, '')
    .replace(/(\*\*|__|\*|_|~~)(?=\S)([^*_~]+?)\1/g, '$2')
    .replace(/[\p{Extended_Pictographic}\u{FE0F}]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}
