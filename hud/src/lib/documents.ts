import type { KnowledgePassage } from '../../../core/protocol/run-events.ts';
import type { Connection } from './connection.svelte.ts';

/**
 * Opens the document a source under an answer came from, in a new tab (a PDF at its page): the core gives this
 * paired screen a short-lived link to it (`open-document`), and the browser shows it with its own viewer. The
 * tab is opened inside the tap, before the link comes: one opened later is a pop-up the browser blocks. Resolves
 * with why it could not be opened, or undefined.
 */
export async function openSource(link: Pick<Connection, 'command'>, source: KnowledgePassage): Promise<string | undefined> {
  const tab = window.open('about:blank', '_blank');
  if (tab) tab.opener = null;
  const ack = await link.command('open-document', { document: source.document, ...(source.page ? { page: source.page } : {}) });
  if (!ack.ok) {
    tab?.close();
    return ack.message;
  }
  const url = new URL(ack.url, window.location.href).href;
  // No tab (a kiosk that allows none): the document replaces the HUD, and Back returns to it.
  if (tab) tab.location.replace(url);
  else window.location.assign(url);
  return undefined;
}
