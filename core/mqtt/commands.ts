import { z } from 'zod';
import { MUTE_OFF, MUTE_ON, PRESS } from './discovery.ts';

/**
 * What may be sent to JARVIS over MQTT, validated before anything is done. The command topic takes JSON
 * (`{"action":"announce","text":"The washing machine is done."}`, `{"action":"ask","text":"…","id":"…"}`,
 * `{"action":"stop"}`) or the same as a line of text (`announce: The washing machine is done.`, `ask: …`, `stop`),
 * which is what a person types into Home Assistant's "publish" box.
 */

/** Longest text to announce or ask: a few spoken sentences, not a document. */
export const MAX_TEXT_CHARS = 1000;

const text = z
  .string()
  .trim()
  .min(1, 'the text is empty')
  .max(MAX_TEXT_CHARS, `the text is longer than ${MAX_TEXT_CHARS} characters`);

export const commandSchema = z.discriminatedUnion(
  'action',
  [
    z.strictObject({ action: z.literal('announce'), text }),
    /** `id` comes back with the answer, so an automation can tell its answer from another's. */
    z.strictObject({ action: z.literal('ask'), text, id: z.string().min(1).max(100).optional() }),
    z.strictObject({ action: z.literal('stop') }),
  ],
  { error: '"action" must be "announce", "ask" or "stop"' },
);

export type MqttCommand = z.infer<typeof commandSchema>;

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

/** How to write a command, for the log line about one that could not be read. */
export const COMMAND_HELP = 'send {"action":"announce","text":"…"}, {"action":"ask","text":"…"}, {"action":"stop"}, or "announce: …", "ask: …", "stop"';

const PLAIN = /^\s*(announce|ask|stop)\s*(?::([\s\S]*))?$/i;

export function parseCommand(payload: Uint8Array): Parsed<MqttCommand> {
  const decoded = utf8(payload);
  if (!decoded.ok) return decoded;
  const body = decoded.value.trim();
  let input: unknown;
  if (body.startsWith('{')) {
    try {
      input = JSON.parse(body);
    } catch {
      return { ok: false, why: 'the JSON does not parse' };
    }
  } else {
    const plain = PLAIN.exec(body);
    if (!plain) return { ok: false, why: 'it is neither a JSON command nor "announce: …", "ask: …" or "stop"' };
    const action = plain[1]!.toLowerCase();
    input = action === 'stop' ? { action } : { action, text: plain[2] ?? '' };
  }
  const result = commandSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `"${issue.path.join('.')}": ` : '';
  return { ok: false, why: `${where}${issue?.message ?? 'not a command'}` };
}

/** The mute switch: "ON" or "OFF", as Home Assistant sends them. */
export function parseSwitch(payload: Uint8Array): Parsed<boolean> {
  const decoded = utf8(payload);
  if (!decoded.ok) return decoded;
  const value = decoded.value.trim().toUpperCase();
  if (value === MUTE_ON) return { ok: true, value: true };
  if (value === MUTE_OFF) return { ok: true, value: false };
  return { ok: false, why: `a switch takes "${MUTE_ON}" or "${MUTE_OFF}"` };
}

/** The stop button: "PRESS". */
export function parsePress(payload: Uint8Array): Parsed<true> {
  const decoded = utf8(payload);
  if (!decoded.ok) return decoded;
  return decoded.value.trim().toUpperCase() === PRESS ? { ok: true, value: true } : { ok: false, why: `a button takes "${PRESS}"` };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function utf8(payload: Uint8Array): Parsed<string> {
  try {
    return { ok: true, value: decoder.decode(payload) };
  } catch {
    return { ok: false, why: 'it is not UTF-8 text' };
  }
}
