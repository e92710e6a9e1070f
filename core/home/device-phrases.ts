/**
 * Which requests look like controlling or asking about the home, and so go to Home Assistant's own intent handling
 * before the LLM. Deliberately loose: a sentence Home Assistant does not understand costs one local round trip and
 * then goes to the LLM anyway; a device request that missed this test would wait for the LLM instead.
 */

const LEAD_IN = /^(?:(?:hey |ok |okay )?jarvis,? )?(?:please |can you |could you |would you |will you )?/;
const CONTROL_VERB = /^(?:turn|switch|set|dim|brighten|open|close|shut|lock|unlock|raise|lower|toggle|activate|deactivate|arm|disarm|start|pause|resume|run)\b/;
const STATE_QUESTION = /^(?:is|are) (?:the |my |all the )?.+ (?:on|off|open|closed|locked|unlocked|running|home)$/;
const MEASURE_QUESTION = /^(?:what(?:'s| is) the (?:temperature|humidity)|how (?:warm|cold|hot|humid) is it) (?:in|inside|outside|at)\b/;
/** A request that names no particular thing: in a room, it means the things in that room. */
const GENERIC_TARGET = /^(?:turn|switch|dim|brighten|set|open|close|shut) (?:on |off |up |down )?(?:the |all the |all )?(?:lights?|lamps?|fans?|blinds|curtains|shades|heating|heater)(?: on| off| up| down)?(?: to \d+ ?(?:percent|%))?$/;
/** Words a request does not end on when it is complete ("turn on the", "set the lights to"). */
const TRAILING = /\b(?:the|a|an|to|in|on the|of|and|for|at|my)$/;

/** Lower case, no punctuation at the ends, no "please"/"jarvis" in front. */
export function plainRequest(text: string): string {
  return text
    .toLowerCase()
    .replace(/[.!?,;:]+$/g, '')
    .replace(/^[\s"'“]+|[\s"'”]+$/g, '')
    .replace(/\s+/g, ' ')
    .replace(LEAD_IN, '');
}

/** A complete request that sounds like device control or a question about a device's state. */
export function looksLikeHomeRequest(text: string): boolean {
  const plain = plainRequest(text);
  if (plain.split(' ').length < 2 || TRAILING.test(plain)) return false;
  return CONTROL_VERB.test(plain) || STATE_QUESTION.test(plain) || MEASURE_QUESTION.test(plain);
}

/** `text`, with "in the <area>" added when it names no particular device or room ("turn on the lights"). */
export function inArea(text: string, area: string | undefined): string {
  if (!area) return text;
  const plain = plainRequest(text);
  return GENERIC_TARGET.test(plain) ? `${plain} in the ${area}` : text;
}
