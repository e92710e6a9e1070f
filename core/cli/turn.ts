import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { closeSink, openSink, printEvents, setup } from './common.ts';

/** `jarvis turn`: one recorded request in, the spoken answer out, with what happened and how long it took. */
export function registerTurn(program: Command): void {
  program
    .command('turn')
    .description('answer one recorded request (with or without the wake word) and print what happened')
    .requiredOption('-i, --input <file.wav>', 'the request as a WAV file (any rate, channels or bit depth)')
    .option('-o, --output <file.wav|speaker|none>', 'where the spoken answer goes', 'speaker')
    .option('--json', 'print the run events as JSON lines instead of text')
    .action(async (options: { input: string; output: string; json?: boolean }, command: Command) => {
      const { config, log } = await setup(command);
      const [{ createDaemon }, { readWavFile }, { findRecordedRequest }] = await Promise.all([
        import('../daemon/daemon.ts'),
        import('../../voice/wav.ts'),
        import('../pipeline/request.ts'),
      ]);
      const recording = await readWavFile(options.input);
      const sink = await openSink(config, options.output, 0);
      const daemon = await createDaemon(config, { log, sink, hear: true });
      printEvents(daemon.assistant.bus, options.json === true);
      try {
        const { wake, vad } = daemon.listening;
        if (!wake || !vad) throw new Error('the daemon was built without its listening engines');
        const { threshold, hangoverMs, minSpeechMs, maxUtteranceMs } = config.vad;
        const request = await findRecordedRequest(recording, wake, vad, { threshold, hangoverMs, minSpeechMs, maxUtteranceMs });
        if (!request) throw new JarvisError('no-speech', `no speech found in ${options.input}`, 'Record the request again, closer to the microphone.');
        const result = await daemon.assistant.answerRecording(request);
        if (!options.json) {
          console.log(`\nyou said: ${result.transcript ?? '(nothing)'}\njarvis:   ${result.answer?.trim() || '(no answer)'}`);
        }
        process.exitCode = result.outcome === 'answered' ? 0 : 1;
      } finally {
        await daemon.dispose();
        await closeSink(sink, options.output, log);
      }
    });
}
