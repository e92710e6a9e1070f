/**
 * The name in the configured wake phrase ("hey jarvis" → "jarvis"), and the spellings Whisper gives it: for a name
 * of five letters or more, any word one edit away ("jervis", "javis", "jarvus"), which still rejects two-edit
 * near misses ("travis"). The transcript checks look for it instead of a fixed "Jarvis".
 */
export class WakeName {
  readonly name: string;

  constructor(wakePhrase: string) {
    const name = words(wakePhrase).at(-1);
    if (!name) throw new Error(`the wake phrase "${wakePhrase}" has no word in it`);
    this.name = name;
  }

  /** True when the (lower-case) word is how Whisper may write the name. */
  matches(word: string): boolean {
    if (word === this.name) return true;
    return this.name.length >= 5 && Math.abs(word.length - this.name.length) <= 1 && withinOneEdit(word, this.name);
  }

  /** Where the name first occurs in the text, as [start, end), or undefined. */
  find(text: string): [number, number] | undefined {
    for (const match of text.matchAll(/[\p{L}\p{N}']+/gu)) {
      if (this.matches(match[0].toLowerCase())) return [match.index, match.index + match[0].length];
    }
    return undefined;
  }
}

export const DEFAULT_WAKE_NAME = new WakeName('hey jarvis');

function withinOneEdit(a: string, b: string): boolean {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  // After the first difference the rest must agree with one letter replaced, removed or added.
  return a.slice(i + 1) === b.slice(i + 1) || a.slice(i + 1) === b.slice(i) || a.slice(i) === b.slice(i + 1);
}

/**
 * Whisper marks non-speech with tags like "[BLANK_AUDIO]", "(music)" or "*coughs*", and often keeps the tail of
 * the wake word ("Jarvis, what time is it?"). Neither is part of the request.
 */
export function cleanTranscript(raw: string, wakeName: WakeName = DEFAULT_WAKE_NAME): string {
  const text = stripNonSpeech(raw);
  const greeting = /^(?:(?:hey|hi|okay|ok)[\s,]+)?/i.exec(text)![0];
  const name = /^[\p{L}\p{N}']+/u.exec(text.slice(greeting.length))?.[0];
  if (name === undefined || !wakeName.matches(name.toLowerCase())) return text;
  return text.slice(greeting.length + name.length).replace(/^[\s,.!?]+/, '').trim();
}

function stripNonSpeech(raw: string): string {
  return raw
    .replace(/\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The wake word must be near the start: the audio before it is at most ~2 s of context. */
const WAKE_WORD_WITHIN_WORDS = 8;

/**
 * For a request recorded together with its wake word: whether the wake word is really there, and the request
 * after it. Anything before the wake word is context the microphone happened to catch.
 */
export function splitAtWakeWord(raw: string, wakeName: WakeName = DEFAULT_WAKE_NAME): { heardWakeWord: boolean; request: string } {
  const text = stripNonSpeech(raw);
  const found = wakeName.find(text);
  if (!found || words(text.slice(0, found[0])).length >= WAKE_WORD_WITHIN_WORDS) {
    return { heardWakeWord: false, request: cleanTranscript(text, wakeName) };
  }
  return { heardWakeWord: true, request: text.slice(found[1]).replace(/^[\s,.!?]+/, '').trim() };
}

/** Lower-case words without punctuation, for comparing what was heard with what was said. */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** True when `heard` is one of the stop phrases (allowing the wake name around it and trailing politeness). */
export function isStopPhrase(heard: string, stopPhrases: readonly string[], wakeName: WakeName = DEFAULT_WAKE_NAME): boolean {
  const said = words(cleanTranscript(heard, wakeName))
    .filter((w) => !['please', 'now', 'thanks', 'thank', 'you', 'ok', 'okay'].includes(w) && !wakeName.matches(w))
    .join(' ');
  return said.length > 0 && stopPhrases.some((phrase) => words(phrase).join(' ') === said);
}
