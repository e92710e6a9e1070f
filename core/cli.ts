import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { JarvisConfig } from '../config/schema.ts';
import { MicrophoneSource } from '../voice/audio/mic-source.ts';
import { SpeakerSink } from '../voice/audio/speaker-sink.ts';
import { StdinSource } from '../voice/audio/stdin-source.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { WavFileSource } from '../voice/audio/file-source.ts';
import type { AudioSink, AudioSource } from '../voice/ports.ts';
import { readWavFile } from '../voice/wav.ts';
import { Assistant } from './assistant.ts';
import { formatEvent, formatTimings } from './cli/format.ts';
import { runDoctor } from './doctor.ts';
import { buildEngines, type BuiltEngines } from './engines.ts';
import { describeError, JarvisError } from './errors.ts';
import { RunEventBus, type RunEvent } from './events.ts';
import { createLogger, type Logger } from './log.ts';
import { findRecordedRequest } from './pipeline/request.ts';
import { runTurn } from './pipeline/turn.ts';
import { turnTimings } from './timings.ts';

interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

const program = new Command('jarvis')
  .description('JARVIS: a private, local, voice-first home assistant')
  .option('-c, --config <file>', 'JSON config file (default ~/.config/jarvis/config.json, or $JARVIS_CONFIG)')
  .addOption(new Option('--log-level <level>', 'log detail on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .showHelpAfterError();

function setup(command: Command): { config: JarvisConfig; log: Logger } {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = loadConfig(globals.config ? { file: globals.config } : {});
  return { config, log: createLogger(globals.logLevel ?? config.log.level) };
}

const positive = (value: string) => {
  const n = Number(value);
  if (!(n >= 0)) throw new InvalidArgumentError('a number >= 0 (0 = as fast as possible)');
  return n;
};

program
  .command('start')
  .description('run the assistant: listen for the wake word on the microphone and answer through the speaker')
  .option('-i, --input <file.wav|->', 'listen to a recording (or raw 16 kHz s16le on stdin: -) instead of the microphone; exits at its end')
  .option('-o, --output <file.wav|speaker|none>', 'where answers go (default: speaker; none for a recording)')
  .option('--speed <factor>', 'replay a recording this many times faster than real time', positive, 1)
  .option('--json', 'print every run event as a JSON line on stdout')
  .action(async (options: { input?: string; output?: string; speed: number; json?: boolean }, command: Command) => {
    const { config, log } = setup(command);
    const source: AudioSource =
      options.input === '-'
        ? new StdinSource()
        : options.input
          ? new WavFileSource(options.input, { speed: options.speed, trailingSilenceMs: config.vad.hangoverMs + 1500 })
          : new MicrophoneSource({ backend: config.audio.input.backend, device: config.audio.input.device });
    const output = options.output ?? (options.input ? 'none' : 'speaker');
    const sink = openSink(config, output, options.input ? options.speed : 1);

    log.info('starting JARVIS');
    const engines = await buildEngines(config, log, { source, sink });
    const assistant = new Assistant(engines, config, log);
    assistant.on('state', (state) => log.info({ phase: state.phase }, 'state'));
    reportStartup(engines, log);
    for (const problem of engines.problems) assistant.reportProblem(problem);
    printEvents(assistant.bus, options.json === true);

    const controller = new AbortController();
    const shutdown = () => controller.abort();
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
    log.info(options.input ? `listening to ${source.description}` : 'listening for "hey Jarvis" (Ctrl+C to stop)');
    try {
      await assistant.listen(controller.signal);
    } finally {
      await assistant.dispose();
      await engines.dispose();
      await closeSink(sink, output, log);
    }
  });

program
  .command('turn')
  .description('answer one recorded request (with or without the wake word) and print what happened')
  .requiredOption('-i, --input <file.wav>', 'the request as a WAV file (any rate, channels or bit depth)')
  .option('-o, --output <file.wav|speaker|none>', 'where the spoken answer goes', 'speaker')
  .option('--json', 'print the run events as JSON lines instead of text')
  .action(async (options: { input: string; output: string; json?: boolean }, command: Command) => {
    const { config, log } = setup(command);
    const recording = await readWavFile(options.input);
    const sink = openSink(config, options.output, 0);
    const engines = await buildEngines(config, log, { source: new WavFileSource(options.input), sink });
    reportStartup(engines, log);
    const bus = new RunEventBus();
    printEvents(bus, options.json === true);
    try {
      const request = await findRecordedRequest(recording, engines.wake, engines.vad, {
        threshold: config.vad.threshold,
        hangoverMs: config.vad.hangoverMs,
        minSpeechMs: config.vad.minSpeechMs,
        maxUtteranceMs: config.vad.maxUtteranceMs,
      });
      if (!request) throw new JarvisError('no-speech', `no speech found in ${options.input}`, 'Record the request again, closer to the microphone.');
      const run = bus.startRun(request.wake ? 'wake' : 'file');
      if (request.wake) run.emit({ type: 'wake', keyword: request.wake.keyword, score: request.wake.score, engine: engines.wake.engine });
      run.emit({ type: 'vad-start' });
      run.emit({ type: 'vad-end', reason: request.reason, speechMs: request.speechMs });
      const { synthesizer, fallbackSynthesizer } = engines;
      const result = await runTurn(
        {
          transcriber: engines.transcriber,
          responder: engines.responder,
          voice: { synthesizer, sink, ...(fallbackSynthesizer ? { fallback: fallbackSynthesizer } : {}) },
          verifyWakeWord: config.wake.verifyTranscript,
        },
        run,
        { audio: request.audio, includesWakeWord: request.wake !== undefined },
        new AbortController().signal,
      );
      if (!options.json) {
        console.log(`\nyou said: ${result.transcript ?? '(nothing)'}\njarvis:   ${result.answer?.trim() || '(no answer)'}\n\ntimings:\n${formatTimings(turnTimings(run.events))}`);
      }
      process.exitCode = result.outcome === 'answered' ? 0 : 1;
    } finally {
      await engines.dispose();
      await closeSink(sink, options.output, log);
    }
  });

program
  .command('ask')
  .description('ask a typed question; the answer streams to stdout')
  .argument('<question...>', 'the question')
  .option('--speak', 'also say the answer through the speaker')
  .option('-o, --output <file.wav>', 'also write the spoken answer to a WAV file')
  .option('--json', 'print the run events as JSON lines instead of the answer')
  .action(async (words: string[], options: { speak?: boolean; output?: string; json?: boolean }, command: Command) => {
    const { config, log } = setup(command);
    const { LlamaResponder } = await import('./llm/llama-responder.ts');
    const responder = new LlamaResponder(config.llm, config.llm.threads ? { threads: config.llm.threads } : {});
    const output = options.output ?? (options.speak ? 'speaker' : undefined);
    const sink = output ? openSink(config, output, 0) : undefined;
    let voice: Parameters<typeof runTurn>[0]['voice'];
    const disposers: (() => Promise<void>)[] = [() => responder.dispose()];
    try {
      const [info] = await Promise.all([
        responder.load(),
        (async () => {
          if (!sink) return;
          const { createSynthesizer } = await import('../voice/tts/select.ts');
          const choice = createSynthesizer(config.tts, log);
          await choice.synthesizer.load();
          disposers.push(() => choice.synthesizer.dispose());
          voice = { synthesizer: choice.synthesizer, sink };
        })(),
      ]);
      log.info(`LLM: ${info.summary}`);
      const bus = new RunEventBus();
      if (options.json) printEvents(bus, true);
      else {
        bus.subscribe((event) => {
          if (event.type === 'error') console.error(formatEvent(event));
        });
      }
      const run = bus.startRun('text');
      const streamed = options.json ? undefined : tokenPrinter(bus);
      const result = await runTurn({ responder, verifyWakeWord: false, ...(voice ? { voice } : {}) }, run, { text: words.join(' ') }, new AbortController().signal);
      streamed?.();
      process.exitCode = result.outcome === 'answered' ? 0 : 1;
    } finally {
      for (const dispose of disposers.reverse()) await dispose().catch(() => {});
      if (sink && output) await closeSink(sink, output, log);
    }
  });

program
  .command('doctor')
  .description('check microphone, speaker, GPU and every model, and say how to fix what is wrong')
  .option('--json', 'machine-readable result')
  .action(async (options: { json?: boolean }, command: Command) => {
    const { config, log } = setup(command);
    const ok = await runDoctor(config, log, { json: options.json === true });
    process.exitCode = ok ? 0 : 1;
  });

function openSink(config: JarvisConfig, output: string, speed: number): AudioSink {
  if (output === 'speaker') return new SpeakerSink({ backend: config.audio.output.backend, device: config.audio.output.device });
  return new VirtualSink({ speed, sampleRate: 22_050 });
}

async function closeSink(sink: AudioSink, output: string, log: Logger): Promise<void> {
  if (sink instanceof VirtualSink && output !== 'none') {
    await sink.writeWav(output);
    log.info(`answer audio written to ${output}`);
  }
  await sink.close();
}

function reportStartup(engines: BuiltEngines, log: Logger): void {
  for (const line of engines.summaries) log.info(line);
  for (const problem of engines.problems) log.warn({ fix: problem.fix }, problem.message);
}

/** Prints run events: every event as JSON, or a readable line per event. */
function printEvents(bus: RunEventBus, json: boolean): void {
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
function tokenPrinter(bus: RunEventBus): () => void {
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

export async function main(argv = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (error) {
    const { message, fix } = describeError(error);
    console.error(`jarvis: ${message}${fix ? `\n  fix: ${fix}` : ''}`);
    process.exitCode = 2;
  }
}
