import { cleanTranscript } from '../pipeline/transcript.ts';
import { numberWordsToDigits } from './numbers.ts';

/**
 * What the intent patterns match against. Transcripts come with and without punctuation and capitals, with
 * numbers as words or digits, with "please" and "can you" around the request and with the odd slip ("G.P.U.",
 * "v ram", "whats"); `plain` irons all of that out. `original` keeps the words as said, for what is stored
 * (a household note is kept in the user's words, not in the matcher's).
 */
export interface Utterance {
  /** The request without the wake word, non-speech tags or surrounding whitespace. */
  readonly original: string;
  /** Lower case, no punctuation (except inside numbers: 7:30, 1.5), number words as digits, politeness removed. */
  readonly plain: string;
}

const CONTRACTIONS: [RegExp, string][] = [
  [/\bwhat(?:'s|s)\b/g, 'what is'],
  [/\bwhere(?:'s|s)\b/g, 'where is'],
  [/\bwhen(?:'s|s)\b/g, 'when is'],
  [/\bhow(?:'s)\b/g, 'how is'],
  [/\bwho's\b/g, 'who is'],
  [/\bit's\b/g, 'it is'],
  [/\bthat(?:'s|s)\b/g, 'that is'],
  [/\bthere's\b/g, 'there is'],
  [/\bi'm\b/g, 'i am'],
  [/\bi'd\b/g, 'i would'],
  [/\bi've\b/g, 'i have'],
  [/\byou're\b/g, 'you are'],
  [/\blet's\b/g, 'let us'],
  [/\b(do|does|did|is|are|was|were|have|has|can|could|would|should)n'?t\b/g, '$1 not'],
  [/\bwon't\b/g, 'will not'],
  [/\bcan't\b|\bcannot\b/g, 'can not'],
  [/\btoday's\b/g, 'today'],
  [/\btomorrow's\b/g, 'tomorrow'],
];

/** Spellings Whisper and keyboards produce for the same few words. */
const SPELLINGS: [RegExp, string][] = [
  [/\bg ?p ?u'?s?\b/g, 'gpu'],
  [/\bv ?ram\b|\bvideo ram\b/g, 'vram'],
  [/\bgraphic card\b|\bgraphics cards\b|\bvideo card\b|\bgraphic cards\b/g, 'graphics card'],
  [/\bllm\b|\bl l m\b/g, 'language model'],
  [/\bo ?clock\b|\bo'clock\b/g, 'oclock'],
  [/\bun mute\b|\bun-mute\b/g, 'unmute'],
  [/\bnevermind\b/g, 'never mind'],
  [/\bmins?\b/g, 'minutes'],
  [/\bsecs?\b/g, 'seconds'],
  [/\bhrs?\b/g, 'hours'],
];

/** Said around a request without changing it. Removed from the front repeatedly. */
const LEADING = [
  'hey', 'hi', 'ok', 'okay', 'alright', 'all right', 'right', 'so', 'um', 'uh', 'erm', 'er', 'well', 'oh', 'jarvis',
  'please', 'just', 'quickly',
  'can you', 'could you', 'would you', 'will you', 'can u', 'would you mind',
  'i want you to', 'i would like you to', 'i need you to', 'i want to', 'i would like to', 'i need to',
  'go ahead and', 'do me a favor and', 'do me a favour and', 'let us',
];

const TRAILING = ['please', 'thanks', 'thank you', 'jarvis', 'for me', 'now', 'right now', 'mate', 'again'];

const LEADING_PATTERN = new RegExp(`^(?:${LEADING.join('|')})(?: |$)`);
const TRAILING_PATTERN = new RegExp(`(?:^| )(?:${TRAILING.join('|')})$`);

export function prepareUtterance(raw: string): Utterance {
  const original = cleanTranscript(raw)
    .replace(/[\s,]+jarvis[\s.!?]*$/i, '')
    .trim();
  return { original, plain: plainWords(original) };
}

/** `text` as the patterns see it (see Utterance.plain). */
export function plainWords(text: string): string {
  let plain = text
    .toLowerCase()
    .replace(/[’‘`´]/g, "'")
    .replace(/[“”]/g, '"')
    // a.m. / p.m. / a m / p m, also glued to the hour ("7am", "7.30pm")
    .replace(/(\d)\s*([ap])\.?\s?m\b\.?/g, '$1 $2m')
    .replace(/\b([ap])\.\s?m\.?(?=\s|$)/g, '$1m')
    .replace(/\b([ap]) m\b/g, '$1m')
    .replace(/(\d)\s*%/g, '$1 percent')
    .replace(/&/g, ' and ');
  for (const [pattern, replacement] of CONTRACTIONS) plain = plain.replace(pattern, replacement);
  plain = plain
    // Keep ":" and "." inside numbers (7:30, 7.30, 1.5); every other mark becomes a space.
    .replace(/(\d):(?=\d)/g, '$1\u0001')
    .replace(/(\d)\.(?=\d)/g, '$1\u0002')
    .replace(/[^\p{L}\p{N}\u0001\u0002' ]+/gu, ' ')
    .replace(/'/g, '')
    .replace(/\u0001/g, ':')
    .replace(/\u0002/g, '.')
    .replace(/\s+/g, ' ')
    .trim();
  for (const [pattern, replacement] of SPELLINGS) plain = plain.replace(pattern, replacement);
  return stripPoliteness(numberWordsToDigits(plain));
}

function stripPoliteness(text: string): string {
  let out = text;
  for (let changed = true; changed; ) {
    changed = false;
    const lead = LEADING_PATTERN.exec(out);
    if (lead && lead[0].trim() !== out) {
      out = out.slice(lead[0].length).trim();
      changed = true;
    }
    const trail = TRAILING_PATTERN.exec(out);
    if (trail && trail.index > 0) {
      out = out.slice(0, trail.index).trim();
      changed = true;
    }
  }
  return out;
}
