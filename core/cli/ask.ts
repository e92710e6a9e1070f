import type { Command } from 'commander';
import fs from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { JarvisError } from '../../base/errors.ts';
import { sniffImageType } from '../../base/image-type.ts';
import type { ImageInput } from '../responder.ts';
import { closeSink, openSink, printEvents, setup, tokenPrinter } from './common.ts';
import { formatEvent } from './format.ts';

/** Skills that leave something for a running JARVIS to ring later. */
const RINGING_SKILLS = new Set(['timer.set', 'alarm.set', 'reminder.set']);

const NO_RINGER =
  'Nothing is running that will ring it: start JARVIS (`npm start` or `jarvis start`) and it rings when due ' +
  '(one that fell due while JARVIS was off rings at start within skills.missedGraceMs, else it is marked missed).';

/** A photo file is this big at most: the vision server scales it to its model's size. */
const MAX_PHOTO_FILE_BYTES = 20 * 1024 * 1024;

/** `--photo`: the file's bytes and what they are (by their magic number, not the file's name). */
function readPhoto(file: string): ImageInput {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new JarvisError('photo-missing', `there is no photo at ${file}`, 'Give the path of a JPEG, PNG or WebP file.');
  }
  if (size > MAX_PHOTO_FILE_BYTES) throw new JarvisError('photo-too-big', `${file} is ${Math.round(size / 1024 / 1024)} MB; --photo takes up to 20 MB`, 'Scale the picture down first.');
  const data = new Uint8Array(fs.readFileSync(file));
  const type = sniffImageType(data);
  if (!type) throw new JarvisError('photo-not-image', `${file} is not a photo: JARVIS looks at JPEG, PNG and WebP images`, 'Give a JPEG, PNG or WebP file.');
  return { type, data };
}

/**
 * `jarvis ask`: a typed question; the answer streams to stdout and, if asked, is spoken. An answer that asks
 * back ("For how long?") reads the reply from the terminal; `jarvis ask -` reads a conversation from stdin, one
 * request per line.
 */
export function registerAsk(program: Command): void {
  program
    .command('ask')
    .description('ask a typed question; the answer streams to stdout (a question back reads your reply; "-": one request per line from stdin)')
    .argument('<question...>', 'the question, or - to read requests from stdin')
    .option('--speak', 'also say the answer through the speaker')
    .option('-o, --output <file.wav>', 'also write the spoken answer to a WAV file')
    .option('--json', 'print the run events as JSON lines instead of the answer')
    .option('--photo <file>', 'ask about a photo (JPEG, PNG or WebP): the vision model answers (llm.roles.vision)')
    .action(async (words: string[], options: { speak?: boolean; output?: string; json?: boolean; photo?: string }, command: Command) => {
      const { config, log } = await setup(command);
      const photo = options.photo ? readPhoto(options.photo) : undefined;
      const { createDaemon } = await import('../daemon/daemon.ts');
      const output = options.output ?? (options.speak ? 'speaker' : undefined);
      const sink = output ? await openSink(config, output, 0) : undefined;
      // The LLM loads only for a question the local skills do not answer ("what time is it" never loads it).
      const daemon = await createDaemon(config, { log, ...(sink ? { sink } : {}), loadLlm: 'when-asked' });
      // One question, asked at once: the home's tools must be there for it (a daemon connects in the background).
      await daemon.mcp?.settled(Math.min(config.mcp.timeoutMs, 5000));
      const fromStdin = words.length === 1 && words[0] === '-';
      const lines = fromStdin || process.stdin.isTTY ? createInterface({ input: process.stdin, output: process.stderr, terminal: !fromStdin }) : undefined;
      try {
        const bus = daemon.assistant.bus;
        if (options.json) printEvents(bus, true);
        else {
          bus.subscribe((event) => {
            if (event.type === 'error') console.error(formatEvent(event));
          });
        }
        let setSomethingToRing = false;
        bus.subscribe((event) => {
          if (event.type === 'intent-end' && event.ok && RINGING_SKILLS.has(event.skill)) setSomethingToRing = true;
        });
        const ask = async (text: string, image?: ImageInput) => {
          const streamed = options.json ? undefined : tokenPrinter(bus);
          const result = await daemon.assistant.ask(text, image);
          streamed?.();
          process.exitCode = result.outcome === 'answered' ? 0 : 1;
          return result;
        };
        if (fromStdin) {
          for await (const line of lines!) if (line.trim()) await ask(line.trim());
        } else {
          let result = await ask(words.join(' '), photo);
          // A question back ("For how long?") is answered on the terminal; an empty line leaves it.
          while (lines && result.outcome === 'answered' && result.answer?.trim().endsWith('?')) {
            const reply = (await lines.question('> ')).trim();
            if (!reply) break;
            result = await ask(reply);
          }
        }
        if (setSomethingToRing && !daemon.skills?.timers.hasRinger()) console.error(NO_RINGER);
      } finally {
        lines?.close();
        await daemon.dispose();
        if (sink && output) await closeSink(sink, output, log);
      }
    });
}
