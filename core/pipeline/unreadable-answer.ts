import { JarvisError } from '../../base/errors.ts';

/**
 * A model whose weights are damaged (a bad download that passed its size check, a disk error, a wrong
 * quantisation) still "answers": control characters and replacement characters, which the voice reads as nothing
 * and the turn used to count as answered. The first stretch of an answer is judged here; mostly unreadable, the
 * answer is stopped and reported with what to do.
 */

/** Characters judged before deciding: enough for any real answer to show letters. */
const JUDGED_CHARS = 24;
const UNREADABLE_SHARE = 0.5;

// C0 controls but tab, newline and return; DEL; C1 controls; the replacement character; unpaired surrogates.
const UNREADABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]|[\ud800-\udfff]/gu;

/** Undefined while the answer so far looks like text (or is too short to tell); the error when it does not. */
export function unreadableAnswer(answerSoFar: string): JarvisError | undefined {
  if (answerSoFar.length < JUDGED_CHARS) return undefined;
  const judged = answerSoFar.slice(0, JUDGED_CHARS * 2);
  const unreadable = judged.match(UNREADABLE)?.length ?? 0;
  if (unreadable / judged.length < UNREADABLE_SHARE) return undefined;
  return new JarvisError(
    'llm-unreadable',
    `the language model answered with unreadable characters (${unreadable} of its first ${judged.length}): its file is probably damaged`,
    'Download the model again (`jarvis models pull <id>`, see `jarvis models list`), then check it with `jarvis doctor`.',
  );
}
