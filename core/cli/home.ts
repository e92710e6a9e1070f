import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { updateConfigFile } from '../../config/edit.ts';
import { describeHomeAssistant, HomeAssistant } from '../home/home-assistant.ts';
import { commandConfig, configFilePath } from './common.ts';

/**
 * `jarvis home connect URL`: Home Assistant in one step. The token is checked against Home Assistant before
 * anything is written, then stored in the config file (owner-only). It is read from stdin or typed at a hidden
 * prompt, never taken as an argument: arguments end up in the shell's history and in every `ps` listing.
 */
export function registerHome(program: Command): void {
  const home = program.command('home').description('Home Assistant: device control through its own intents and MCP tools');

  home
    .command('connect')
    .description('connect to Home Assistant with a long-lived access token (your profile → Security in Home Assistant)')
    .argument('<url>', 'the address you open Home Assistant at, e.g. http://homeassistant.local:8123')
    .option('--token-stdin', 'read the token from stdin (scripts) instead of a prompt')
    .option('--area <name>', 'the Home Assistant area JARVIS is in: "turn on the lights" then means the lights there')
    .action(async (url: string, options: { tokenStdin?: boolean; area?: string }, command: Command) => {
      const config = commandConfig(command);
      const token = options.tokenStdin ? await readStdin() : (process.env.JARVIS_HOME__TOKEN ?? (await promptHidden('Home Assistant long-lived access token: ')));
      if (!token) throw new JarvisError('usage', 'no access token given', 'Create one in Home Assistant (your profile → Security → Long-lived access tokens) and paste it at the prompt, or pipe it to `jarvis home connect URL --token-stdin`.');
      const client = new HomeAssistant({ url, token, timeoutMs: Math.max(config.home.timeoutMs, 5000) });
      const about = await client.check();
      const file = configFilePath(command);
      updateConfigFile(file, (tree) => {
        const previous = (tree.home as Record<string, unknown> | undefined) ?? {};
        tree.home = { ...previous, url: client.url, token, ...(options.area ? { area: options.area } : {}) };
      });
      console.log(`Connected to Home Assistant ${about.version} ("${about.locationName}") at ${client.url}; saved in ${file}.`);
      console.log('Restart JARVIS to use it (`systemctl --user restart jarvis` for the service, or stop and start `jarvis start`).');
    });

  home
    .command('status')
    .description('check the connection to Home Assistant')
    .action(async (_options: unknown, command: Command) => {
      const { home: settings } = commandConfig(command);
      if (!settings.url || !settings.token) {
        console.log('Not connected to Home Assistant. Connect with `jarvis home connect URL`.');
        return;
      }
      console.log(`Connected to Home Assistant ${await describeHomeAssistant(settings)}.`);
    });

  home
    .command('disconnect')
    .description('forget the Home Assistant address and token')
    .action((_options: unknown, command: Command) => {
      const file = configFilePath(command);
      updateConfigFile(file, (tree) => {
        delete tree.home;
      });
      console.log(`Home Assistant settings removed from ${file}. Restart JARVIS; also delete the token in Home Assistant (your profile → Security).`);
    });
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.trim();
}

/** A prompt whose answer is not echoed, so the token is not left on the screen. */
async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) return '';
  const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const write = (lines as unknown as { _writeToOutput: (text: string) => void })._writeToOutput.bind(lines);
  let asked = false;
  (lines as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = (text: string) => {
    if (!asked) write(text);
    asked = true;
  };
  try {
    return (await new Promise<string>((resolve) => lines.question(question, resolve))).trim();
  } finally {
    lines.close();
    process.stdout.write('\n');
  }
}
