import type { Logger } from '../../base/log.ts';
import type { Confirmations } from '../mcp/confirmations.ts';
import { SentenceAlert } from '../mcp/spoken-alert.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import type { SpeechOutputDeps } from '../pipeline/speech-output.ts';
import type { LiveFeed } from '../server/live-feed.ts';

/**
 * The MCP tools' confirmation questions inside the running daemon: the screens show the question waiting (with
 * Yes / No), a tap answers it (the call runs and its sentence is said, as an alert), and a question nobody
 * answered in time is said to be not done. Returns the undo.
 */
export function connectConfirmations(confirmations: Confirmations, assistant: Assistant, voice: SpeechOutputDeps | undefined, log: Logger, feed?: LiveFeed): () => void {
  const say = (sentence: Promise<string | undefined>) => assistant.alert(new SentenceAlert(() => sentence, voice));
  const onExpired = (sentence: string) => {
    log.info(sentence);
    say(Promise.resolve(sentence));
  };
  const calls = new AbortController();
  confirmations.on('expired', onExpired);
  const hide = feed?.showConfirmation({
    view: () => confirmations.pending,
    subscribe: (listener) => {
      confirmations.on('changed', listener);
      return () => confirmations.off('changed', listener);
    },
    answer: (id, yes) => {
      // Carried out at once (a tap means now); what it did is said as soon as nothing else is being said.
      const said = confirmations.answer(yes, calls.signal, { id });
      if (!said) return false;
      log.info({ id, yes }, 'confirmation answered on a screen');
      say(said);
      return true;
    },
  });
  return () => {
    calls.abort();
    confirmations.off('expired', onExpired);
    hide?.();
  };
}
