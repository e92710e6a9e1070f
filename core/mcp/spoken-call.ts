import { toolWords } from './tool-names.ts';

/**
 * What JARVIS says about a tool call, in one short sentence: the question before a call that must be confirmed
 * ("Unlock the front door?"), the answer after it ("Front door unlocked.", or the server's own short text), and
 * what went wrong ("The home server did not answer."). Home Assistant's intent tools (HassTurnOn, HassTurnOff,
 * HassLightSet) get sentences from their arguments; any other tool is named from its own name.
 */

type Args = Readonly<Record<string, unknown>>;
const MAX_SPOKEN_RESULT = 160;

/** "the kitchen lights", "the front door", "everything in the kitchen", or undefined when the arguments name nothing. */
export function targetPhrase(args: Args): string | undefined {
  const name = stringArg(args.name);
  const area = stringArg(args.area) ?? stringArg(args.floor);
  const domain = [args.domain].flat().find((d): d is string => typeof d === 'string');
  const things = domain ? DOMAIN_WORDS[domain] ?? domain.replace(/_/g, ' ') : undefined;
  if (name) return `the ${area && !name.toLowerCase().includes(area.toLowerCase()) ? `${area} ` : ''}${name}`;
  if (area && things) return `the ${area} ${things}`;
  if (area) return `everything in the ${area}`;
  if (things) return `all the ${things}`;
  return undefined;
}

const DOMAIN_WORDS: Readonly<Record<string, string>> = { light: 'lights', fan: 'fans', switch: 'switches', cover: 'covers', lock: 'locks', media_player: 'speakers', climate: 'heating' };

type Action = { readonly verb: string; readonly done: string };

/** Home Assistant's intents, read from the call: HassTurnOff on a lock unlocks it, HassTurnOn on a cover opens it. */
function homeAction(tool: string, args: Args): Action | undefined {
  const domains = [args.domain].flat().filter((d): d is string => typeof d === 'string');
  const target = `${stringArg(args.name) ?? ''} ${stringArg(args.device_class) ?? ''}`.toLowerCase();
  const lock = domains.includes('lock') || (!domains.length && /\b(?:lock|door)\b/.test(target) && !/\b(?:garage|gate)\b/.test(target));
  const cover = !lock && (domains.includes('cover') || domains.includes('valve') || /\b(?:garage|gate|blinds?|curtains?|shades?|shutters?)\b/.test(target));
  if (tool === 'HassTurnOn') return lock ? { verb: 'lock', done: 'locked' } : cover ? { verb: 'open', done: 'open' } : { verb: 'turn on', done: 'on' };
  if (tool === 'HassTurnOff') return lock ? { verb: 'unlock', done: 'unlocked' } : cover ? { verb: 'close', done: 'closed' } : { verb: 'turn off', done: 'off' };
  if (tool === 'HassLightSet') {
    const level = typeof args.brightness === 'number' ? `${args.brightness} percent` : stringArg(args.color);
    return level ? { verb: `set`, done: `at ${level}` } : undefined;
  }
  return undefined;
}

/** The question before a confirmed call: "Unlock the front door?", "Delete file notes.txt?". */
export function confirmQuestion(tool: string, args: Args, said?: string): string {
  const action = homeAction(tool, args);
  const target = said ?? targetPhrase(args);
  if (action && target) {
    const level = action.verb === 'set' ? ` to ${action.done.replace(/^at /, '')}` : '';
    return capitalise(`${action.verb} ${target}${level}?`);
  }
  const detail = Object.values(args).find((v): v is string => typeof v === 'string' && v.length <= 40);
  return capitalise(`${toolWords(tool)}${detail ? ` ${detail}` : ''}?`);
}

/** After a call that worked: "Kitchen lights off.", else the server's own text when it is one short sentence. */
export function doneSentence(tool: string, args: Args, resultText: string, said?: string): string {
  const action = homeAction(tool, args);
  const target = said ?? targetPhrase(args);
  if (action && target) return capitalise(`${target.replace(/^the /, '')} ${action.done}.`);
  const text = resultText.replace(/\s+/g, ' ').trim();
  if (text && text.length <= MAX_SPOKEN_RESULT && !/^[[{]/.test(text)) return /[.!?]$/.test(text) ? text : `${text}.`;
  return capitalise(`${toolWords(tool)}: done.`);
}

/** Said instead of the action when the user said no, or did not answer in time. */
export function notDoneSentence(question: string, why: 'declined' | 'unanswered'): string {
  const what = question.replace(/\?$/, '');
  const lower = what.charAt(0).toLowerCase() + what.slice(1);
  return why === 'declined' ? `Okay, I won't ${lower}.` : `No answer, so I did not ${lower}.`;
}

export type CallFailure = 'timeout' | 'crashed' | 'not-connected' | 'error' | 'unknown-tool';

/** One sentence for a call that did not work. */
export function failureSentence(server: string, failure: CallFailure, message?: string): string {
  const who = `The ${server.replace(/_/g, ' ')} server`;
  switch (failure) {
    case 'timeout':
      return `${who} did not answer.`;
    case 'crashed':
      return `${who} stopped before it answered.`;
    case 'not-connected':
      return `${who} is not connected.`;
    case 'unknown-tool':
      return `${who} no longer offers that.`;
    case 'error': {
      const short = message?.replace(/\s+/g, ' ').trim();
      return short && short.length <= 100 ? `${who} could not do that: ${short.replace(/[.!]$/, '')}.` : `${who} could not do that.`;
    }
  }
}

function stringArg(value: unknown): string | undefined {
  const first = [value].flat()[0];
  return typeof first === 'string' && first.trim() ? first.trim() : undefined;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
