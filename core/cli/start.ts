import type { Command } from 'commander';
import { MicrophoneSource } from '../../voice/audio/mic-source.ts';
import { StdinSource } from '../../voice/audio/stdin-source.ts';
import { WavFileSource } from '../../voice/audio/file-source.ts';
import type { AudioSource } from '../../voice/ports.ts';
import { Assistant } from '../assistant.ts';
import { buildEngines } from '../engines.ts';
import { closeSink, openSink, positive, printEvents, reportStartup, setup } from './common.ts';

/** `jarvis start`: the always-on assistant (microphone → speaker), or a replay of a recording. */
export function registerStart(program: Command): void {
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
}
