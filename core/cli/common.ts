import { type Command, InvalidArgumentError } from 'commander';
import type { Logger } from '../../base/log.ts';
import { defaultConfigPath, loadConfig } from '../../config/load.ts';
import { withRememberedLan } from '../server/lan-choice.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { AudioSink } from '../../voice/ports.ts';
import type { RunEventBus } from '../events.ts';
import type { RunEvent } from '../protocol/run-events.ts';
import { turnTimings } from '../protocol/timings.ts';
import { formatEvent, formatTimings } from './format.ts';

/** What the commands share: config and logger from the global options, audio outputs, event printing. */

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

/** The config (with the models chosen by `jarvis models use` in place of the configured paths) and the logger. */
export async function setup(command: Command): Promise<{ config: JarvisConfig; log: Logger }> {
  const loaded = commandConfig(command);
  const [{ applyModelSelection }, { ModelStore }, { createLogger }] = await Promise.all([
    import('../../models/selection.ts'),
    import('../../models/store.ts'),
    import('../../base/log.ts'),
  ]);
  const log = createLogger(command.optsWithGlobals<GlobalOptions>().logLevel ?? loaded.log.level);
  return { config: applyModelSelection(loaded, ModelStore.fromConfig(loaded)), log };
}

/**
 * The config as configured, for the commands that open no model and log nothing (timers, memory, devices): they
 * load neither the model library nor the logger, so they start in a few hundred milliseconds.
 */
export function commandConfig(command: Command): JarvisConfig {
  const globals = command.optsWithGlobals<GlobalOptions>();
  return withRememberedLan(loadConfig(globals.config ? { file: globals.config } : {}));
}

/** The config file the settings are read from (and commands such as `jarvis home connect` write to). */
export function configFilePath(command: Command): string {
  return command.optsWithGlobals<GlobalOptions>().config ?? process.env.JARVIS_CONFIG ?? defaultConfigPath;
}

export const positive = (value: string) => {
  const n = Number(value);
  if (!(n >= 0)) throw new InvalidArgumentError('a number >= 0 (0 = as fast as possible)');
  return n;
};

/** `speaker`, or a virtual speaker that keeps what it played (written to `output` as a WAV unless it is 'none'). */
export async function openSink(config: JarvisConfig, output: string, speed: number): Promise<AudioSink> {
  if (output === 'speaker') {
    const { SpeakerSink } = await import('../../voice/audio/speaker-sink.ts');
    return new SpeakerSink({ backend: config.audio.output.backend, device: config.audio.output.device });
  }
  const { VirtualSink } = await import('../../voice/audio/virtual-sink.ts');
  // Nothing is written for 'none': a daemon running for weeks must not keep every answer it "played".
  return new VirtualSink({ speed, sampleRate: 22_050, record: output !== 'none' });
}

export async function closeSink(sink: AudioSink, output: string, log: Logger): Promise<void> {
  const { VirtualSink } = await import('../../voice/audio/virtual-sink.ts');
  if (sink instanceof VirtualSink && output !== 'none') {
    await sink.writeWav(output);
    log.info(`answer audio written to ${output}`);
  }
  await sink.close();
}

/** Prints run events: every event as JSON, or a readable line per event. */
export function printEvents(bus: RunEventBus, json: boolean, options: { words?: boolean } = {}): void {
  const runEvents = new Map<number, RunEvent[]>();
  bus.subscribe((event) => {
    if (!runEvents.has(event.runId)) runEvents.set(event.runId, []);
    runEvents.get(event.runId)!.push(event);
  });
  bus.subscribe((event: RunEvent) => {
    if (json) console.log(JSON.stringify(event));
    else if (event.type !== 'tts-start' && event.type !== 'playback-start') console.log(formatEvent(event, options));
    if (!json && event.type === 'run-end') {
      const timings = formatTimings(turnTimings(runEvents.get(event.runId) ?? []));
      if (timings) console.log(timings);
      runEvents.delete(event.runId);
    }
  });
}

/** Streams the answer's sentences to stdout as they are completed. */
export function tokenPrinter(bus: RunEventBus): () => void {
  let printed = false;
  const unsubscribe = bus.subscribe((event) => {
    if (event.type === 'sentence') {
      process.stdout.write(`${printed ? ' ' : ''}${event.text}`);
      printed = true;
    }
  });
  return () => {
    unsubscribe();
    if (printed) process.stdout.write('\n');
  };
}
