import { z } from 'zod';
import type { ToolCallContext, ToolDefinition, ToolHost, ToolOutcome } from '../responder.ts';
import type { Clock } from '../../base/clock.ts';
import { resolveClockTime, type DaySpec } from './clock-time.ts';
import type { SkillCall } from './skill-call.ts';
import type { SkillRunner } from './skill-runner.ts';

/**
 * The skills as functions the LLM can call, for requests the local patterns do not catch ("put something on
 * for the eggs, six minutes", "remember that grandma's train gets in at four"). Each call becomes the same
 * SkillCall a local intent would make and runs through the same SkillRunner, reported as intent-start/end with
 * `via: 'llm'`. Arguments are generated under a grammar built from these schemas (node-llama-cpp), and checked
 * again here, since a model can still put nonsense inside a valid shape.
 */

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const DAYS = ['today', 'tomorrow', ...WEEKDAYS] as const;
const nullableString = { type: ['string', 'null'] } as const;

export const SKILL_TOOLS: readonly ToolDefinition[] = [
  {
    name: 'setTimer',
    description: 'Start a countdown timer. Give its length in hours, minutes and seconds (0 where unused) and an optional short name such as "pasta".',
    params: {
      type: 'object',
      properties: { hours: { type: 'integer' }, minutes: { type: 'integer' }, seconds: { type: 'integer' }, name: nullableString },
    },
  },
  {
    name: 'setAlarm',
    description:
      'Set an alarm, or a reminder, for a clock time. time is 24-hour "HH:MM"; day is today, tomorrow or a weekday. For a reminder, remindAbout says what to remind of; otherwise it is null.',
    params: {
      type: 'object',
      properties: { time: { type: 'string' }, day: { enum: DAYS }, remindAbout: nullableString },
    },
  },
  { name: 'listTimers', description: 'List the timers, alarms and reminders that are set, with the time left.' },
  {
    name: 'cancelTimer',
    description: 'Cancel a timer, alarm or reminder by its name (null: the only one), or all of them.',
    params: { type: 'object', properties: { name: nullableString, all: { type: 'boolean' } } },
  },
  {
    name: 'setVolume',
    description: 'Set the loudness of your own voice, 0 to 100 percent.',
    params: { type: 'object', properties: { percent: { type: 'integer' } } },
  },
  { name: 'muteSpeaker', description: 'Mute (true) or unmute (false) your own voice.', params: { type: 'object', properties: { muted: { type: 'boolean' } } } },
  { name: 'graphicsCardTemperature', description: 'Read the temperature of the graphics card (GPU).' },
  { name: 'graphicsCardMemory', description: 'Read how much graphics card memory (VRAM) is used and how much there is.' },
  { name: 'currentModel', description: 'Say which language model and speech models are loaded.' },
  {
    name: 'switchModel',
    description: 'Switch the language model, e.g. "the small model" or "qwen".',
    params: { type: 'object', properties: { model: { type: 'string' } } },
  },
  {
    name: 'rememberFact',
    description: 'Store a fact about the household for later, in one plain sentence, e.g. "The wifi password is on the fridge".',
    params: { type: 'object', properties: { fact: { type: 'string' } } },
  },
  {
    name: 'recallFacts',
    description: 'Look up stored household facts about a subject, e.g. "wifi password".',
    params: { type: 'object', properties: { about: { type: 'string' } } },
  },
  {
    name: 'forgetFact',
    description: 'Delete the stored household fact about a subject.',
    params: { type: 'object', properties: { about: { type: 'string' } } },
  },
];

const count = z.number().int().min(0).max(1_000_000);
const text = z.string().trim().min(1).max(500);
const optionalText = z.string().trim().max(200).nullable().optional().transform((s) => (s ? s : undefined));

const PARAMS = {
  setTimer: z.object({ hours: count.default(0), minutes: count.default(0), seconds: count.default(0), name: optionalText }),
  setAlarm: z.object({
    time: z.string().regex(/^\d{1,2}:\d{2}$/, 'a 24-hour time such as 07:30'),
    day: z.enum(DAYS).default('today'),
    remindAbout: optionalText,
  }),
  cancelTimer: z.object({ name: optionalText, all: z.boolean().default(false) }),
  setVolume: z.object({ percent: z.number().min(0).max(100) }),
  muteSpeaker: z.object({ muted: z.boolean() }),
  switchModel: z.object({ model: text }),
  rememberFact: z.object({ fact: text }),
  recallFacts: z.object({ about: text }),
  forgetFact: z.object({ about: text }),
};

export class SkillTools implements ToolHost {
  readonly definitions = SKILL_TOOLS;

  constructor(
    private readonly runner: SkillRunner,
    private readonly clock: Clock,
    readonly maxCallsPerTurn: number,
  ) {}

  async call(name: string, params: unknown, context: ToolCallContext): Promise<ToolOutcome> {
    let call: SkillCall;
    try {
      call = this.toSkillCall(name, params ?? {});
    } catch (error) {
      const message = error instanceof z.ZodError ? error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (error as Error).message;
      return { result: { ok: false, error: `bad arguments for ${name}: ${message}` } };
    }
    const result = await this.runner.runReported(call, 'llm', context.run);
    // The user hears `say` at once; the key tells the model so, so that it does not say it again.
    return {
      result: { ok: result.ok, alreadyToldUser: result.say, ...(result.code ? { error: result.code } : {}), ...result.data },
      ...(result.say ? { said: result.say } : {}),
    };
  }

  /** The SkillCall for a function call; throws on arguments that make no sense. */
  toSkillCall(name: string, params: unknown): SkillCall {
    switch (name) {
      case 'setTimer': {
        const p = PARAMS.setTimer.parse(params);
        const durationMs = ((p.hours * 60 + p.minutes) * 60 + p.seconds) * 1000;
        return { skill: 'timer.set', durationMs, ...(p.name ? { label: p.name } : {}) };
      }
      case 'setAlarm': {
        const p = PARAMS.setAlarm.parse(params);
        const [hour, minute] = p.time.split(':').map(Number) as [number, number];
        if (hour > 23 || minute > 59) throw new Error(`${p.time} is not a time of day`);
        const day: DaySpec = p.day === 'today' || p.day === 'tomorrow' ? { kind: 'offset', days: p.day === 'tomorrow' ? 1 : 0 } : { kind: 'weekday', weekday: WEEKDAYS.indexOf(p.day), next: false };
        const dueAt = resolveClockTime({ hour, minute, twentyFour: true }, this.clock.now(), { day });
        return p.remindAbout ? { skill: 'alarm.set', kind: 'reminder', dueAt, label: p.remindAbout } : { skill: 'alarm.set', kind: 'alarm', dueAt };
      }
      case 'listTimers':
        return { skill: 'timer.list' };
      case 'cancelTimer': {
        const p = PARAMS.cancelTimer.parse(params);
        return { skill: 'timer.cancel', all: p.all, ...(p.name ? { target: { label: p.name } } : {}) };
      }
      case 'setVolume':
        return { skill: 'volume.set', level: Math.round(PARAMS.setVolume.parse(params).percent) };
      case 'muteSpeaker':
        return { skill: 'volume.mute', muted: PARAMS.muteSpeaker.parse(params).muted };
      case 'graphicsCardTemperature':
        return { skill: 'gpu.temperature' };
      case 'graphicsCardMemory':
        return { skill: 'gpu.memory' };
      case 'currentModel':
        return { skill: 'model.current' };
      case 'switchModel':
        return { skill: 'model.switch', target: PARAMS.switchModel.parse(params).model };
      case 'rememberFact':
        return { skill: 'memory.remember', fact: PARAMS.rememberFact.parse(params).fact.replace(/[.!\s]+$/, '') };
      case 'recallFacts':
        return { skill: 'memory.recall', about: PARAMS.recallFacts.parse(params).about };
      case 'forgetFact':
        return { skill: 'memory.forget', about: PARAMS.forgetFact.parse(params).about };
      default:
        throw new Error(`there is no function called ${name}`);
    }
  }
}
