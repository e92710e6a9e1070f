/**
 * How an MCP tool is named and described to the LLM. Names are namespaced by server ("home__HassTurnOn") so two
 * servers' tools cannot collide with each other or with the skills, and reduced to the characters every chat
 * template and GBNF grammar accepts. Descriptions are cut at a sentence or word boundary: many servers write
 * paragraphs, and every character is in the prompt of every question.
 */

export const NAMESPACE_SEPARATOR = '__';
const MAX_NAME_CHARS = 64;

/** `server__tool`, with anything but letters, digits and "_" turned into "_". */
export function namespacedToolName(server: string, tool: string): string {
  const clean = tool.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'tool';
  return `${server}${NAMESPACE_SEPARATOR}${clean}`.slice(0, MAX_NAME_CHARS);
}

/** The first sentences of `text` that fit in `maxChars`, or its first words and "…". */
export function shortDescription(text: string | undefined, maxChars: number): string {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  if (flat.length <= maxChars) return flat;
  const sentences = flat.match(/[^.!?]+[.!?]+(?=\s|$)/g) ?? [];
  let kept = '';
  for (const sentence of sentences) {
    if ((kept + sentence).length > maxChars) break;
    kept += sentence;
  }
  if (kept.trim()) return kept.trim();
  const cut = flat.slice(0, maxChars - 1);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), maxChars / 2)).trimEnd()}…`;
}

/** "HassTurnOn" → "hass turn on", "delete_file" → "delete file": for matching words and for speaking. */
export function toolWords(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[^A-Za-z0-9]+/g, ' ')
    .trim()
    .toLowerCase();
}
