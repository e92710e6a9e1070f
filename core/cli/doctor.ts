import type { Command } from 'commander';
import { runDoctor } from '../daemon/doctor.ts';
import { setup } from './common.ts';

/** `jarvis doctor`. */
export function registerDoctor(program: Command): void {
  program
      .command('doctor')
    .description('check microphone, speaker, GPU and every model, and say how to fix what is wrong')
    .option('--json', 'machine-readable result')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { config, log } = await setup(command);
      const ok = await runDoctor(config, log, { json: options.json === true });
      process.exitCode = ok ? 0 : 1;
    });
}
