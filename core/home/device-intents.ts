import { isAbortError } from '../../base/errors.ts';
import type { McpTools } from '../mcp/mcp-tools.ts';
import { FrontResponder } from '../front-responder.ts';
import type { Responder, ResponseRequest } from '../responder.ts';
import { plainWords } from '../skills/normalize.ts';

/**
 * Device control without the LLM, through any connected MCP server that offers Home Assistant's intent tools
 * (Home Assistant's own MCP server exposes its Assist intents as HassTurnOn, HassTurnOff, HassLightSet…): "turn off
 * the kitchen lights", "switch on the fan", "turn the lights in the living room off", "set the kitchen lights to 40
 * percent", "unlock the front door" become the call itself, answered in a few words ("Kitchen lights off."). The
 * tool policies apply as for the LLM: unlocking asks first. What these patterns do not recognise, or no server
 * offers, goes on to the next stage. Requests the local skills answer ("set the volume to 5") never come here.
 */

export type DeviceTool = 'HassTurnOn' | 'HassTurnOff' | 'HassLightSet';

export interface DeviceIntent {
  readonly tool: DeviceTool;
  /** Home Assistant's slots: name, area, domain, brightness. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The thing as it was said ("the kitchen lights", "the fan"), for the answer. */
  readonly target: string;
}

/**
 * Words for a kind of thing rather than a named one. Plural after a room ("the kitchen lights") means every one of
 * that kind in that area; singular after a word ("the desk lamp", "the kitchen light") is the name of one thing;
 * alone ("the fan", "the lights") it means those of that kind (in the request's room, when known).
 */
const KINDS: Readonly<Record<string, { domain: string; plural: boolean }>> = Object.fromEntries([
  ...['light', 'lamp', 'fan', 'heater', 'tv', 'television', 'speaker'].map((w) => [w, { domain: domainOf(w), plural: false }]),
  ...['lights', 'lamps', 'fans', 'heating', 'speakers', 'blinds', 'curtains', 'shades', 'shutters'].map((w) => [w, { domain: domainOf(w), plural: true }]),
]);

function domainOf(word: string): string {
  if (/^(?:light|lamp)/.test(word)) return 'light';
  if (word.startsWith('fan')) return 'fan';
  if (/^(?:heat)/.test(word)) return 'climate';
  if (/^(?:tv|television|speaker)/.test(word)) return 'media_player';
  return 'cover';
}

const POWER = [
  // turn off the kitchen lights / switch on the fan
  { pattern: /^(?:turn|switch|put) (on|off) (?:all )?(?:the |my )?(.+)$/, state: 1, target: 2 },
  // turn the lights in the living room off
  { pattern: /^(?:turn|switch|put) (?:all )?(?:the |my )?(.+) (on|off)$/, state: 2, target: 1 },
] as const;
const LOCK = /^(lock|unlock) (?:the |my )?(.+)$/;
const OPEN = /^(open|close|shut) (?:the |my )?(.+)$/;
const LEVEL = /^(?:set|dim|turn|put|bring) (?:the |my )?(.+?) (?:brightness )?(?:to|at) (\d{1,3}) ?percent(?: brightness)?$/;

/** The intent `text` states, or undefined. `area`: the room a request that names none means. */
export function matchDeviceIntent(text: string, area?: string): DeviceIntent | undefined {
  const said = plainWords(text);
  const level = LEVEL.exec(said);
  if (level) {
    const brightness = Number(level[2]);
    const target = parseTarget(level[1]!, area);
    return brightness <= 100 && target ? { tool: 'HassLightSet', args: { ...target, brightness }, target: spoken(level[1]!) } : undefined;
  }
  for (const { pattern, state, target: at } of POWER) {
    const match = pattern.exec(said);
    const target = match && parseTarget(match[at]!, area);
    if (match && target) return { tool: match[state] === 'on' ? 'HassTurnOn' : 'HassTurnOff', args: target, target: spoken(match[at]!) };
  }
  const lock = LOCK.exec(said);
  if (lock) {
    const target = parseTarget(lock[2]!, area);
    return target && { tool: lock[1] === 'lock' ? 'HassTurnOn' : 'HassTurnOff', args: { ...target, domain: ['lock'] }, target: spoken(lock[2]!) };
  }
  const open = OPEN.exec(said);
  if (open) {
    const target = parseTarget(open[2]!, area);
    return target && { tool: open[1] === 'open' ? 'HassTurnOn' : 'HassTurnOff', args: target, target: spoken(open[2]!) };
  }
  return undefined;
}

/** "all the kitchen lights" → "the kitchen lights"; "lights in the living room" → "the living room lights". */
function spoken(raw: string): string {
  const words = raw.replace(/^(?:the|my|all the|all) /, '');
  const located = /^(\w+) (?:in|on) the (.+)$/.exec(words);
  return `the ${located && KINDS[located[1]!] ? `${located[2]} ${located[1]}` : words}`;
}

/**
 * "kitchen lights" → area kitchen, domain light; "lights in the living room" → the same for the living room;
 * "fan" → every fan (in `area` when given); anything else is a name ("desk lamp", "front door").
 */
function parseTarget(raw: string, area?: string): Record<string, unknown> | undefined {
  let words = raw.replace(/^(?:the|my|all the|all) /, '').trim();
  let inArea: string | undefined;
  const located = /^(.+?) (?:in|on) the (.+)$/.exec(words);
  if (located) {
    words = located[1]!.replace(/^(?:the|all the) /, '');
    inArea = located[2];
  }
  // "turn off the" is a request not yet finished; "turn it off", "the volume", "the timer" are not devices here.
  if (!words || words.split(' ').length > 5 || /\b(?:the|a|an|my|to|in|on|of|and|for|at)$/.test(words)) return undefined;
  if (/\b(?:it|that|this|them|everything|volume|timer|alarm|music)\b/.test(words)) return undefined;
  const parts = words.split(' ');
  const kind = KINDS[parts.at(-1)!];
  const before = parts.slice(0, -1).join(' ');
  if (kind && (!before || kind.plural)) {
    const where = before && inArea ? undefined : inArea ?? (before || area);
    if (where === undefined && before) return { name: words, area: inArea };
    return { ...(where ? { area: where } : {}), domain: [kind.domain] };
  }
  return { name: words, ...(inArea ? { area: inArea } : {}) };
}

/** The stage that answers device phrases through the MCP tools; in front of `inner` (the skills, then the LLM). */
export class DeviceIntentResponder extends FrontResponder {
  constructor(
    inner: Responder,
    private readonly tools: McpTools,
    private readonly options: { readonly area?: string } = {},
  ) {
    super(inner);
  }

  override understands(text: string): boolean {
    return this.#intent(text) !== undefined || super.understands(text);
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    const intent = this.#intent(request.text, request.area);
    const offered = intent && this.tools.find(intent.tool);
    this.answeredHere = offered !== undefined;
    if (!intent || !offered) {
      yield* this.inner.respond(request);
      return;
    }
    await request.confirmed;
    if (request.signal.aborted) return;
    try {
      const context = { signal: request.signal, ...(request.run ? { run: request.run } : {}) };
      const outcome = await this.tools.run(offered, { ...intent.args }, context, 'local', intent.target);
      if (outcome.said) yield outcome.said;
    } catch (error) {
      if (!isAbortError(error)) throw error;
    }
  }

  /** A device intent some server can carry out, unless the local skills answer `text` themselves. `area`: where it was heard. */
  #intent(text: string, area = this.options.area): DeviceIntent | undefined {
    if (this.localCall(text)) return undefined;
    const intent = matchDeviceIntent(text, area);
    return intent && this.tools.find(intent.tool) ? intent : undefined;
  }
}
