import { Command, Option } from 'commander';
import { registerAsk } from './ask.ts';
import { registerDevices } from './devices.ts';
import { registerDoctor } from './doctor.ts';
import { registerMemory } from './memory.ts';
import { registerModels } from './models.ts';
import { registerStart } from './start.ts';
import { registerTimers } from './timers.ts';
import { registerTurn } from './turn.ts';
import { describeError } from '../../base/errors.ts';

/** The `jarvis` command line; each command lives in core/cli/<name>.ts. */

const program = new Command('jarvis')
  .description('JARVIS: a private, local, voice-first home assistant')
  .option('-c, --config <file>', 'JSON config file (default ~/.config/jarvis/config.json, or $JARVIS_CONFIG)')
  .addOption(new Option('--log-level <level>', 'log detail on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .showHelpAfterError();

registerStart(program);
registerTurn(program);
registerAsk(program);
registerDoctor(program);
registerMemory(program);
registerTimers(program);
registerModels(program);
registerDevices(program);

export async function main(argv = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (error) {
    const { message, fix } = describeError(error);
    console.error(`jarvis: ${message}${fix ? `\n  fix: ${fix}` : ''}`);
    process.exitCode = 2;
  }
}
