import type { Command } from 'commander';
import { MicrophoneSource } from '../../voice/audio/mic-source.ts';
import { StdinSource } from '../../voice/audio/stdin-source.ts';
import { WavFileSource } from '../../voice/audio/file-source.ts';
import type { AudioSource } from '../../voice/ports.ts';
import { Assistant } from '../pipeline/assistant.ts';
import { buildEngines } from '../daemon/engines.ts';
import { RemoteAccess } from '../server/remote-access.ts';
import { connectModelManager, firstRunDownloads } from '../live-models/daemon-hooks.ts';
import { connectSkills } from '../daemon/skills-link.ts';
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
    .option('--no-download', 'do not download missing models on a first run (say what to fetch instead)')
    .action(async (options: { input?: string; output?: string; speed: number; json?: boolean; download: boolean }, command: Command) => {
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
      // The HUD server runs with a live source (microphone, stdin), not for the replay of a file.
      const remote = config.server.enabled && (!options.input || options.input === '-') ? new RemoteAccess(config, log) : undefined;
      const engines = await buildEngines(config, log, { source: remote?.tapSource(source) ?? source, sink });
      const assistant = new Assistant(remote?.tapEngines(engines) ?? engines, config, log);
      assistant.on('state', (state) => log.info({ phase: state.phase }, 'state'));
      reportStartup(engines, log);
      for (const problem of engines.problems) assistant.reportProblem(problem);
      const disconnectModels = connectModelManager(engines.models, assistant, log);
      if (!options.input || options.input === '-') {
        // In the background: the daemon listens (and says it is still downloading) while the models arrive.
        const download = options.download && config.models.downloadOnFirstRun && !config.models.offline;
        const why = !options.download ? '--no-download was given' : config.models.offline ? 'models.offline is true' : 'models.downloadOnFirstRun is false';
        void firstRunDownloads(engines.models, log, { download, why }).catch((error: unknown) => log.error({ err: error }, 'first-run model downloads failed'));
      }
      printEvents(assistant.bus, options.json === true);
      await remote?.start(assistant, engines.models);
      // Timers ring through the assistant; the stored speaker level sets its volume; GPU answers read the HUD's telemetry.
      const skills = engines.skills ? connectSkills(engines.skills, assistant, engines, config, log, remote?.feed) : undefined;

      const controller = new AbortController();
      const shutdown = () => controller.abort();
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      log.info(options.input ? `listening to ${source.description}` : 'listening for "hey Jarvis" (Ctrl+C to stop)');
      try {
        const listening = assistant.listen(controller.signal);
        skills?.start();
        await listening;
      } finally {
        skills?.dispose();
        disconnectModels();
        await remote?.close();
        await assistant.dispose();
        await engines.dispose();
        await closeSink(sink, output, log);
      }
    });
}
