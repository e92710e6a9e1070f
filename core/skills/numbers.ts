/**
 * Numbers as Whisper writes them, or as people type them: "twenty five", "twenty-five", "a hundred and five",
 * "25". The intent patterns only ever see digits, so "set a timer for five minutes" and "set a timer for 5
 * minutes" are the same request.
 */

const UNITS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18,
  nineteen: 19,
};

const TENS: Record<string, number> = {
  twenty: 20, thirty: 30, forty: 40, fourty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};

const SCALES: Record<string, number> = { hundred: 100, thousand: 1000 };

function isNumberWord(word: string | undefined): boolean {
  return word !== undefined && (word in UNITS || word in TENS || word in SCALES);
}

/**
 * Replaces every run of English number words in lower-case, space-separated `text` with its digits: "twenty
 * five" → "25", "one hundred and twenty" → "120", "a hundred" → "100". Words that are not numbers are kept.
 */
export function numberWordsToDigits(text: string): string {
  const words = text.split(' ');
  const out: string[] = [];
  for (let i = 0; i < words.length; ) {
    const word = words[i]!;
    // "a hundred", "a thousand"
    const startsWithA = (word === 'a' || word === 'one') && words[i + 1] !== undefined && words[i + 1]! in SCALES;
    if (!isNumberWord(word) && !startsWithA) {
      out.push(word);
      i++;
      continue;
    }
    let total = 0;
    let current = 0;
    let j = i;
    let last: 'unit' | 'ten' | 'scale' | undefined;
    if (startsWithA) {
      current = 1;
      last = 'unit';
      j++;
    }
    for (; j < words.length; j++) {
      const w = words[j]!;
      if (w in TENS && (last === undefined || last === 'scale')) {
        current += TENS[w]!;
        last = 'ten';
      } else if (w in UNITS && (last === undefined || last === 'scale' || (last === 'ten' && UNITS[w]! < 10 && UNITS[w]! > 0))) {
        current += UNITS[w]!;
        last = 'unit';
      } else if (w in SCALES && last !== undefined && last !== 'scale') {
        const scale = SCALES[w]!;
        if (scale === 100) current *= 100;
        else {
          total += current * scale;
          current = 0;
        }
        last = 'scale';
      } else if (w === 'and' && last === 'scale' && isNumberWord(words[j + 1]) && !(words[j + 1]! in SCALES)) {
        continue;
      } else {
        break;
      }
    }
    out.push(String(total + current));
    i = j;
  }
  return out.join(' ');
}
