// First: no command may load onnxruntime-node with its telemetry on (see the module).
import '../../voice/onnx-telemetry-off.ts';
import { Command, Option } from 'commander';
import { describeError, JarvisError } from '../../base/errors.ts';
import { packageVersion } from '../../base/package-root.ts';

/**
 * The `jarvis` command line; each command lives in core/cli/<name>.ts. Only the command being run is loaded (a
 * `jarvis timers list` never loads llama.cpp or onnxruntime); `jarvis --help` and a mistyped command load all of
 * them, to list them.
 */

type Register = (program: Command) => void;

const COMMANDS: Record<string, () => Promise<Register>> = {
  start: async () => (await import('./start.ts')).registerStart,
  turn: async () => (await import('./turn.ts')).registerTurn,
  ask: async () => (await import('./ask.ts')).registerAsk,
  doctor: async () => (await import('./doctor.ts')).registerDoctor,
  memory: async () => (await import('./memory.ts')).registerMemory,
  timers: async () => (await import('./timers.ts')).registerTimers,
  models: async () => (await import('./models.ts')).registerModels,
  devices: async () => (await import('./devices.ts')).registerDevices,
  service: async () => (await import('./service.ts')).registerService,
  forget: async () => (await import('./forget.ts')).registerForget,
  home: async () => (await import('./home.ts')).registerHome,
  docs: async () => (await import('./docs.ts')).registerDocs,
};

/** Global options that take a value: the word after them is not the command. */
const TAKES_VALUE = new Set(['-c', '--config', '--log-level']);

/** The command named on the command line, if it is one of ours. */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (TAKES_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return Object.hasOwn(COMMANDS, arg) ? arg : undefined;
  }
  return undefined;
}

async function program(args: readonly string[]): Promise<Command> {
  const cli = new Command('jarvis')
    .description('JARVIS: a private, local, voice-first home assistant')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'JSON config file (default ~/.config/jarvis/config.json, or $JARVIS_CONFIG)')
    .addOption(new Option('--log-level <level>', 'log detail on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .showHelpAfterError();
  const named = commandOf(args);
  // The version needs no command; the help and a mistyped command list all of them.
  const wanted = named ? [COMMANDS[named]!] : args.some((arg) => arg === '-V' || arg === '--version') ? [] : Object.values(COMMANDS);
  const registers = await Promise.all(wanted.map((load) => load()));
  for (const register of registers) register(cli);
  return cli;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await (await program(argv.slice(2))).parseAsync(argv);
  } catch (error) {
    const { message, fix } = describeError(error);
    console.error(`jarvis: ${message}${fix ? `\n  fix: ${fix}` : ''}`);
    // Anything but a JarvisError is a bug: where it happened is what a report needs.
    if (!(error instanceof JarvisError) && error instanceof Error && error.stack) console.error(error.stack.split('\n').slice(1).join('\n'));
    process.exitCode = 2;
  }
}
