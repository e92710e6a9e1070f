import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.ts';
import { applyModelSelection } from '../../models/selection.ts';
import { ModelStore } from '../../models/store.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { SpeakerSink } from '../../voice/audio/speaker-sink.ts';
import { VirtualSink } from '../../voice/audio/virtual-sink.ts';
import type { AudioSink } from '../../voice/ports.ts';
import type { BuiltEngines } from '../daemon/engines.ts';
import type { RunEventBus } from '../events.ts';
import type { RunEvent } from '../protocol/run-events.ts';
import { createLogger, type Logger } from '../../base/log.ts';
import { turnTimings } from '../protocol/timings.ts';
import { formatEvent, formatTimings } from './format.ts';

/** What the commands share: config and logger from the global options, audio outputs, event printing. */

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

export function setup(command: Command): { config: JarvisConfig; log: Logger } {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const loaded = loadConfig(globals.config ? { file: globals.config } : {});
  // Models chosen with `jarvis models use` replace the configured paths for every command.
  const config = applyModelSelection(loaded, ModelStore.fromConfig(loaded));
  return { config, log: createLogger(globals.logLevel ?? config.log.level) };
}

export const positive = (value: string) => {
  const n = Number(value);
  if (!(n >= 0)) throw new InvalidArgumentError('a number >= 0 (0 = as fast as possible)');
  return n;
};

export function openSink(config: JarvisConfig, output: string, speed: number): AudioSink {
  if (output === 'speaker') return new SpeakerSink({ backend: config.audio.output.backend, device: config.audio.output.device });
  return new VirtualSink({ speed, sampleRate: 22_050 });
}

export async function closeSink(sink: AudioSink, output: string, log: Logger): Promise<void> {
  if (sink instanceof VirtualSink && output !== 'none') {
    await sink.writeWav(output);
    log.info(`answer audio written to ${output}`);
  }
  await sink.close();
}

export function reportStartup(engines: BuiltEngines, log: Logger): void {
  for (const line of engines.summaries) log.info(line);
  for (const problem of engines.problems) log.warn({ fix: problem.fix }, problem.message);
}

/** Prints run events: every event as JSON, or a readable line per event. */
export function printEvents(bus: RunEventBus, json: boolean): void {
  const runEvents = new Map<number, RunEvent[]>();
  bus.subscribe((event) => {
    if (!runEvents.has(event.runId)) runEvents.set(event.runId, []);
    runEvents.get(event.runId)!.push(event);
  });
  bus.subscribe((event: RunEvent) => {
    if (json) console.log(JSON.stringify(event));
    else if (event.type !== 'tts-start' && event.type !== 'playback-start') console.log(formatEvent(event));
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
