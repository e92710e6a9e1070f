import type { Command } from 'commander';
import { closeSink, openSink, printEvents, setup, tokenPrinter } from './common.ts';
import { formatEvent } from './format.ts';

/** `jarvis ask`: a typed question; the answer streams to stdout and, if asked, is spoken. */
export function registerAsk(program: Command): void {
  program
    .command('ask')
    .description('ask a typed question; the answer streams to stdout')
    .argument('<question...>', 'the question')
    .option('--speak', 'also say the answer through the speaker')
    .option('-o, --output <file.wav>', 'also write the spoken answer to a WAV file')
    .option('--json', 'print the run events as JSON lines instead of the answer')
    .action(async (words: string[], options: { speak?: boolean; output?: string; json?: boolean }, command: Command) => {
      const { config, log } = await setup(command);
      const { createDaemon } = await import('../daemon/daemon.ts');
      const output = options.output ?? (options.speak ? 'speaker' : undefined);
      const sink = output ? await openSink(config, output, 0) : undefined;
      // The LLM loads only for a question the local skills do not answer ("what time is it" never loads it).
      const daemon = await createDaemon(config, { log, ...(sink ? { sink } : {}), loadLlm: 'when-asked' });
      try {
        const bus = daemon.assistant.bus;
        if (options.json) printEvents(bus, true);
        else {
          bus.subscribe((event) => {
            if (event.type === 'error') console.error(formatEvent(event));
          });
        }
        const streamed = options.json ? undefined : tokenPrinter(bus);
        const result = await daemon.assistant.ask(words.join(' '));
        streamed?.();
        process.exitCode = result.outcome === 'answered' ? 0 : 1;
      } finally {
        await daemon.dispose();
        if (sink && output) await closeSink(sink, output, log);
      }
    });
}
