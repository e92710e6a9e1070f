import type { Command } from 'commander';
import { WavFileSource } from '../../voice/audio/file-source.ts';
import { readWavFile } from '../../voice/wav.ts';
import { buildEngines } from '../daemon/engines.ts';
import { JarvisError } from '../../base/errors.ts';
import { RunEventBus } from '../events.ts';
import { findRecordedRequest } from '../pipeline/request.ts';
import { runTurn } from '../pipeline/turn.ts';
import { closeSink, openSink, printEvents, reportStartup, setup } from './common.ts';

/** `jarvis turn`: one recorded request in, the spoken answer out, with what happened and how long it took. */
export function registerTurn(program: Command): void {
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
          console.log(`\nyou said: ${result.transcript ?? '(nothing)'}\njarvis:   ${result.answer?.trim() || '(no answer)'}`);
        }
        process.exitCode = result.outcome === 'answered' ? 0 : 1;
      } finally {
        await engines.dispose();
        await closeSink(sink, options.output, log);
      }
    });
}
