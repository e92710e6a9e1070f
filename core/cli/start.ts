import type { Command } from 'commander';
import type { AudioSource } from '../../voice/ports.ts';
import { serviceNotifier } from '../daemon/service-notify.ts';
import { rememberLan } from '../server/lan-choice.ts';
import { closeSink, configFilePath, openSink, positive, printEvents, setup } from './common.ts';

const STOP_DEADLINE_MS = 5000;

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
    .option('--lan', 'let phones on this network reach the HUD (HTTPS on every address); remembered for the next starts')
    .option('--no-lan', 'this computer only again (remembered)')
    .action(async (options: { input?: string; output?: string; speed: number; json?: boolean; download: boolean; lan?: boolean }, command: Command) => {
      const { config: configured, log } = await setup(command);
      if (options.lan !== undefined) await rememberLan(configured.dataDir, options.lan);
      const config = options.lan === undefined ? configured : { ...configured, server: { ...configured.server, lan: options.lan } };
      const [{ createDaemon }, { MicrophoneSource }, { StdinSource }, { WavFileSource }] = await Promise.all([
        import('../daemon/daemon.ts'),
        import('../../voice/audio/mic-source.ts'),
        import('../../voice/audio/stdin-source.ts'),
        import('../../voice/audio/file-source.ts'),
      ]);
      const source: AudioSource =
        options.input === '-'
          ? new StdinSource()
          : options.input
            ? new WavFileSource(options.input, { speed: options.speed, trailingSilenceMs: config.vad.hangoverMs + 1500 })
            : new MicrophoneSource({ backend: config.audio.input.backend, device: config.audio.input.device });
      const output = options.output ?? (options.input ? 'none' : 'speaker');
      const sink = await openSink(config, output, options.input ? options.speed : 1);
      // A live source gets the HUD server and first-run downloads; the replay of a file gets neither.
      const live = !options.input || options.input === '-';
      const download = options.download && config.models.downloadOnFirstRun && !config.models.offline;
      const why = !options.download ? '--no-download was given' : config.models.offline ? 'models.offline is true' : 'models.downloadOnFirstRun is false';

      log.info('starting JARVIS');
      const daemon = await createDaemon(config, {
        log,
        source,
        sink,
        screens: live && config.server.enabled,
        wyoming: live,
        satellites: live,
        configFile: configFilePath(command),
        ...(live ? { firstRun: { download, why } } : {}),
      });
      daemon.assistant.on('state', (state) => log.info({ phase: state.phase }, 'state'));
      const { transcripts } = config.log;
      printEvents(daemon.assistant.bus, options.json === true, { words: transcripts === 'always' || (transcripts === 'terminal' && process.stdout.isTTY === true) });

      const controller = new AbortController();
      // Under systemd (`jarvis service install`): READY now, watchdog pings from this event loop, STOPPING.
      const notifier = serviceNotifier(process.env, log);
      const shutdown = () => {
        notifier?.stopping();
        // A stop must not hang on an engine that does not let go: systemd (and a person) waits 5 s, not more.
        setTimeout(() => {
          log.error('still stopping after 5 s: exiting anyway');
          process.exit(1);
        }, STOP_DEADLINE_MS).unref();
        controller.abort();
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      log.info(options.input ? `listening to ${source.description}` : 'listening for "hey Jarvis" (Ctrl+C to stop)');
      notifier?.ready(options.input ? `listening to ${source.description}` : 'listening for the wake word');
      try {
        await daemon.run(controller.signal);
      } finally {
        notifier?.close();
        await daemon.dispose();
        await closeSink(sink, output, log);
      }
    });
}
