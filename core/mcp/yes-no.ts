import { plainWords } from '../skills/normalize.ts';

/** A spoken yes or no to a question JARVIS asked; undefined when the words are neither (another request). */

const YES = /^(?:yes|yeah|yep|yup|yes yes|sure|of course|certainly|ok|okay|okay do it|ok do it|do it|go ahead|go for it|please do|confirm|confirmed|affirmative|correct|that's right|right|absolutely|yes do it|yes go ahead|yes i do|i do|i confirm)$/;
const NO = /^(?:no|nope|nah|no no|no way|don't|do not|don't do it|do not do it|cancel|cancel it|cancel that|never mind|nevermind|stop|negative|leave it|not now|no don't|no do not|no cancel|absolutely not|i don't|i do not)$/;

export function yesOrNo(text: string): boolean | undefined {
  const said = plainWords(text).replace(/^(?:yes|no),? (?:jarvis|please|thanks|thank you)$/, (m) => m.split(/[ ,]/)[0]!);
  if (YES.test(said)) return true;
  if (NO.test(said)) return false;
  return undefined;
}
