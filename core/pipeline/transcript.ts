/**
 * Whisper marks non-speech with tags like "[BLANK_AUDIO]", "(music)" or "*coughs*", and often keeps the tail of
 * the wake word ("Jarvis, what time is it?"). Neither is part of the request.
 */
export function cleanTranscript(raw: string): string {
  return stripNonSpeech(raw)
    .replace(/^(?:(?:hey|hi|okay|ok)[\s,]+)?jarvis\b[\s,.!?]*/i, '')
    .trim();
}

function stripNonSpeech(raw: string): string {
  return raw
    .replace(/\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Spellings Whisper gives the wake word. */
const WAKE_WORD = /\b(?:jarvis|jarvus|jarviss|jervis|javis|jarvas)\b/i;
/** The wake word must be near the start: the audio before it is at most ~2 s of context. */
const WAKE_WORD_WITHIN_WORDS = 8;

/**
 * For a request recorded together with its wake word: whether the wake word is really there, and the request
 * after it. Anything before the wake word is context the microphone happened to catch.
 */
export function splitAtWakeWord(raw: string): { heardWakeWord: boolean; request: string } {
  const text = stripNonSpeech(raw);
  const match = WAKE_WORD.exec(text);
  if (!match || words(text.slice(0, match.index)).length >= WAKE_WORD_WITHIN_WORDS) return { heardWakeWord: false, request: cleanTranscript(text) };
  return { heardWakeWord: true, request: text.slice(match.index + match[0].length).replace(/^[\s,.!?]+/, '').trim() };
}

/** Lower-case words without punctuation, for comparing what was heard with what was said. */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** True when `heard` is one of the stop phrases (allowing "jarvis" around it and trailing politeness). */
export function isStopPhrase(heard: string, stopPhrases: readonly string[]): boolean {
  const said = words(cleanTranscript(heard))
    .filter((w) => !['please', 'now', 'jarvis', 'thanks', 'thank', 'you', 'ok', 'okay'].includes(w))
    .join(' ');
  return said.length > 0 && stopPhrases.some((phrase) => words(phrase).join(' ') === said);
}
