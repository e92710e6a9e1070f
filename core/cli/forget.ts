import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { commandLocalJarvis } from '../server/local-client.ts';
import { commandConfig } from './common.ts';
import { withMemory } from './memory.ts';

/**
 * `jarvis forget --all`: everything JARVIS keeps of what was said. The household notes are on disk; the
 * conversation lives only in a running JARVIS (its model's context), which is asked to forget it. Audio is never
 * stored, so there is none to delete.
 */
export function registerForget(program: Command): void {
  program
    .command('forget')
    .description('forget everything said to JARVIS: the household notes and the running conversation')
    .option('--all', 'required: everything (notes one by one: `jarvis memory forget`)')
    .action(async (options: { all?: boolean }, command: Command) => {
      if (!options.all) throw new JarvisError('usage', 'say --all to forget everything', 'To forget single notes, use `jarvis memory forget`.');
      const config = commandConfig(command);
      withMemory(command, (notes) => console.log(`Forgot ${notes.forgetAll()} household note(s).`));
      const reply = await commandLocalJarvis(config, 'forget-conversation', {});
      if (!reply.reached) {
        console.log('No JARVIS is running here; a conversation lives only in a running JARVIS, so there is none to forget.');
        return;
      }
      if (!reply.ack.ok) throw new JarvisError('forget-failed', `the running JARVIS did not forget the conversation: ${reply.ack.message}`, reply.ack.fix ?? 'See its log.');
      console.log('The running JARVIS forgot the conversation.');
    });
}
