/**
 * A model asked to pick one of a few words (the role router's routing call, core/llm/role-router.ts): the words as
 * a GBNF grammar, for backends that constrain generation with one (node-llama-cpp, llama-server's `grammar` field),
 * and the word an answer names, for those that do not (or that stopped it after a token or two).
 */

/** `root ::= "code" | "chat"`: generation can produce exactly one of `choices`. */
export function choiceGrammar(choices: readonly string[]): string {
  if (choices.length === 0) throw new Error('no choices to pick from');
  // A GBNF string literal takes JSON's escapes for quotes and backslashes.
  return `root ::= ${choices.map((choice) => JSON.stringify(choice)).join(' | ')}`;
}

/**
 * The choice `answer` names: the first word of it, or the start of one that only one choice begins with ("co" of a
 * cut-off "code"), case and punctuation aside. Undefined when it names none, or more than one.
 */
export function matchChoice(answer: string, choices: readonly string[]): string | undefined {
  const word = /[\p{L}\p{N}_-]+/u.exec(answer.toLowerCase())?.[0];
  if (!word) return undefined;
  const exact = choices.find((choice) => choice.toLowerCase() === word);
  if (exact !== undefined) return exact;
  const started = choices.filter((choice) => choice.toLowerCase().startsWith(word));
  return started.length === 1 ? started[0] : undefined;
}

/** Tokens a routing call may generate: the longest choice spelled a few characters a token, and no more. */
export const CLASSIFY_MAX_TOKENS = 4;
