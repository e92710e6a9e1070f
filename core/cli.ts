import { Command, Option } from 'commander';
import { registerAsk } from './cli/ask.ts';
import { registerDevices } from './cli/devices.ts';
import { registerDoctor } from './cli/doctor.ts';
import { registerMemory } from './cli/memory.ts';
import { registerModels } from './cli/models.ts';
import { registerStart } from './cli/start.ts';
import { registerTimers } from './cli/timers.ts';
import { registerTurn } from './cli/turn.ts';
import { describeError } from './errors.ts';

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
