import type { Command } from 'commander';
import { RunEventBus } from '../events.ts';
import { runTurn } from '../pipeline/turn.ts';
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
      const { config, log } = setup(command);
      const { LlamaResponder } = await import('../llm/llama-responder.ts');
      const llm = new LlamaResponder(config.llm, config.llm.threads ? { threads: config.llm.threads } : {});
      // Local skills first: what they answer ("what time is it") never even loads the LLM.
      const { SkillsRuntime } = await import('../skills/skills-runtime.ts');
      const skills = config.skills.enabled ? new SkillsRuntime(config, log) : undefined;
      const skillResponder = skills?.responder(llm);
      const responder = skillResponder ?? llm;
      const answeredLocally = skillResponder?.localCall(words.join(' ')) !== undefined;
      const output = options.output ?? (options.speak ? 'speaker' : undefined);
      const sink = output ? openSink(config, output, 0) : undefined;
      let voice: Parameters<typeof runTurn>[0]['voice'];
      const disposers: (() => Promise<void>)[] = [async () => skills?.dispose(), () => responder.dispose()];
      try {
        const [info] = await Promise.all([
          answeredLocally ? undefined : responder.load(),
          (async () => {
            if (!sink) return;
            const { createSynthesizer } = await import('../../voice/tts/select.ts');
            const choice = createSynthesizer(config.tts, log);
            await choice.synthesizer.load();
            disposers.push(() => choice.synthesizer.dispose());
            voice = { synthesizer: choice.synthesizer, sink };
          })(),
        ]);
        if (info) log.info(`LLM: ${info.summary}`);
        if (info?.warning) log.warn({ fix: info.warning.fix }, info.warning.message);
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
}
