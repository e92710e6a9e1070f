import { spawn } from 'node:child_process';
import { abortError, JarvisError } from '../../base/errors.ts';
import type { PcmAudio, SpeechRequest, Synthesizer } from '../ports.ts';

/**
 * espeak-ng through its command-line program: the voice that works on every machine with the Debian package,
 * and the phonemizer Piper voices were trained with (voice/tts/phonemize.ts).
 */

export const ESPEAK_COMMAND = 'espeak-ng';
/** espeak-ng's own default speed; rate 1 keeps it. */
const DEFAULT_WORDS_PER_MINUTE = 175;
/** espeak-ng refuses speeds outside this range. */
const MIN_WPM = 80;
const MAX_WPM = 450;

export interface EspeakRunOptions {
  input?: string;
  signal?: AbortSignal;
  command?: string;
}

export function espeakNotInstalled(command: string, cause?: unknown): JarvisError {
  return new JarvisError(
    'espeak-missing',
    `the espeak-ng program (${command}) is not installed or not on PATH`,
    'Install it with `sudo apt install espeak-ng` (Fedora: `sudo dnf install espeak-ng`, macOS: `brew install espeak-ng`).',
    { cause },
  );
}

/** A voice or language espeak-ng (its program or its library) does not have. */
export function unknownEspeakVoice(voice: string): JarvisError {
  return new JarvisError(
    'espeak-voice-unknown',
    `espeak-ng has no voice "${voice}"`,
    'Use a voice that `espeak-ng --voices` lists (e.g. en-gb, en-us): tts.espeakVoice, or espeak.voice in a Piper voice\'s .onnx.json.',
  );
}

/**
 * Runs espeak-ng with `input` on stdin and returns its stdout. Text goes through stdin rather than argv so that
 * text starting with "-" is never read as an option. Aborting kills the process.
 */
export function runEspeak(args: readonly string[], options: EspeakRunOptions = {}): Promise<Buffer> {
  const command = options.command ?? ESPEAK_COMMAND;
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal, 'speech synthesis aborted'));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (error: Error | undefined, value?: Buffer) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(value!);
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      finish(abortError(signal, 'speech synthesis aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      finish(error.code === 'ENOENT' ? espeakNotInstalled(command, error) : error);
    });
    // A killed or failed child closes stdin under us; the exit code reports that, not EPIPE.
    child.stdin.on('error', () => {});
    child.on('close', (code, killSignal) => {
      if (code === 0) return finish(undefined, Buffer.concat(stdout));
      const detail = Buffer.concat(stderr).toString('utf8').trim() || `exit ${code ?? killSignal}`;
      if (/voice does not exist/i.test(detail)) {
        const voiceIndex = args.indexOf('-v');
        return finish(unknownEspeakVoice(voiceIndex >= 0 ? args[voiceIndex + 1]! : '(default)'));
      }
      finish(new JarvisError('espeak-failed', `espeak-ng failed: ${detail}`, 'Check that `espeak-ng "hello"` works in a terminal.'));
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface EspeakSynthesizerOptions {
  /** espeak-ng voice name, e.g. "en-gb" or "en-us+f3". */
  voice: string;
  /** Speaking rate multiplier: 1 normal, 1.2 a fifth faster. */
  rate?: number;
  /** The program to run; tests point it elsewhere to see a missing install. */
  command?: string;
}

/** espeak-ng's own synthesis: robotic but always there and instant. */
export class EspeakSynthesizer implements Synthesizer {
  readonly engine = 'espeak';
  readonly voice: string;
  readonly wordsPerMinute: number;
  readonly #command: string;
  #loaded: Promise<void> | undefined;

  constructor(options: EspeakSynthesizerOptions) {
    this.voice = options.voice;
    this.wordsPerMinute = Math.round(
      Math.min(MAX_WPM, Math.max(MIN_WPM, DEFAULT_WORDS_PER_MINUTE * (options.rate ?? 1))),
    );
    this.#command = options.command ?? ESPEAK_COMMAND;
  }

  /** Checks that the program and the voice exist, so a bad setup shows at start and not at the first answer. */
  load(): Promise<void> {
    this.#loaded ??= runEspeak(['-q', '-v', this.voice], { command: this.#command }).then(
      () => undefined,
      (error: unknown) => {
        this.#loaded = undefined;
        throw error;
      },
    );
    return this.#loaded;
  }

  async synthesize(request: SpeechRequest): Promise<PcmAudio> {
    const text = request.text.replace(/\s+/g, ' ').trim();
    if (request.signal?.aborted) throw abortError(request.signal, 'speech synthesis aborted');
    if (!/[\p{L}\p{N}]/u.test(text)) return { samples: new Int16Array(0), sampleRate: ESPEAK_SAMPLE_RATE };
    const wav = await runEspeak(['--stdout', '-v', this.voice, '-s', String(this.wordsPerMinute)], {
      input: text,
      signal: request.signal,
      command: this.#command,
    });
    return parseEspeakWav(wav);
  }

  async dispose(): Promise<void> {
    this.#loaded = undefined;
  }
}

export const ESPEAK_SAMPLE_RATE = 22_050;

/**
 * espeak-ng streams its WAV, so the header's sizes are placeholders (0x7ffff000): the data chunk is taken to the
 * end of what was written instead of trusting them, which general WAV readers refuse or get wrong.
 */
export function parseEspeakWav(bytes: Buffer): PcmAudio {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    throw new JarvisError('espeak-failed', 'espeak-ng did not write a WAV stream', 'Check that `espeak-ng --stdout "hello" | aplay` works.');
  }
  let offset = 12;
  let sampleRate = ESPEAK_SAMPLE_RATE;
  let format = { audioFormat: 1, channels: 1, bits: 16 };
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = { audioFormat: bytes.readUInt16LE(body), channels: bytes.readUInt16LE(body + 2), bits: bytes.readUInt16LE(body + 14) };
      sampleRate = bytes.readUInt32LE(body + 4);
    } else if (id === 'data') {
      if (format.audioFormat !== 1 || format.channels !== 1 || format.bits !== 16) {
        throw new JarvisError(
          'espeak-failed',
          `espeak-ng wrote ${format.channels}-channel ${format.bits}-bit audio (format ${format.audioFormat}); expected mono 16-bit PCM`,
          'Reinstall espeak-ng from your distribution.',
        );
      }
      const end = Math.min(bytes.length, body + size);
      const count = Math.floor((end - body) / 2);
      const samples = new Int16Array(count);
      for (let i = 0; i < count; i++) samples[i] = bytes.readInt16LE(body + 2 * i);
      return { samples, sampleRate };
    }
    offset = body + size + (size & 1);
  }
  return { samples: new Int16Array(0), sampleRate };
}
