/**
 * Text that others wrote (a note or a timer a paired phone stored, a device's name) printed on the user's
 * terminal. Control characters in it would be obeyed, not shown: an escape sequence can clear the screen, retitle
 * the window or rewrite the lines above; a carriage return or newline can forge a line; bidirectional overrides
 * can make one name read as another. They are written as escapes instead ("\x1b[2J"), so what was stored is
 * visible for what it is.
 */

/** C0 controls (tab and newline too: in a list they would forge columns and lines), DEL, C1 controls, bidi controls. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Inside JSON.stringify's output, which escapes C0 already; U+2028/2029 end a line for some readers. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

const hex = (c: string, digits: number) => c.charCodeAt(0).toString(16).padStart(digits, '0');

/** `text` with every control character written as \xNN (or \uNNNN above U+00FF). */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/**
 * JSON.stringify for a terminal: the same JSON (it parses back to the same value), with DEL, C1 and bidi controls
 * also escaped. They can only occur inside strings, where \uNNNN means the same character.
 */
export function printableJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}
