import { AudioDeviceError } from '../../base/errors.ts';
import { CAPTURE_SAMPLE_RATE, type AudioSource } from '../ports.ts';
import { AudioProcess, within } from './audio-process.ts';
import { noAudioFailure, processFailure } from './device-errors.ts';
import { readPcmStream, StalledStreamError } from './pcm-stream.ts';
import { soundServerAnswers, watchSourceChanges } from './sound-server.ts';

/**
 * The live microphone, recorded by a child process rather than a native addon: parec (PulseAudio/PipeWire)
 * or arecord (ALSA) already handle device selection, resampling to 16 kHz mono and hot-plugging, and a
 * crashed recorder cannot take the assistant down with it.
 */

export type InputBackend = 'auto' | 'parec' | 'arecord';

export interface MicrophoneOptions {
  backend?: InputBackend;
  /** Backend device name; "default" is the system's default microphone. */
  device?: string;
  /** Environment for the recorder (PULSE_SERVER, ALSA settings); tests point it at their own sound server. */
  env?: NodeJS.ProcessEnv;
  /** A recorder that delivers nothing for this long is treated as a dead device. */
  noAudioTimeoutMs?: number;
  /** Requested capture latency: how often the recorder hands over audio. */
  latencyMs?: number;
}

const DEFAULT_NO_AUDIO_MS = 3000;
/** How often the microphone hands over audio unless told otherwise: small, since every stage waits for it. */
export const MICROPHONE_CHUNK_MS = 20;
/** How long a recorder whose output ended may take to report its exit status. */
const EXIT_GRACE_MS = 1000;

export class MicrophoneSource implements AudioSource {
  readonly #backend: InputBackend;
  readonly #device: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #noAudioMs: number;
  readonly #latencyMs: number;
  #resolved: 'parec' | 'arecord' | undefined;

  constructor(options: MicrophoneOptions = {}) {
    this.#backend = options.backend ?? 'auto';
    this.#device = options.device ?? 'default';
    this.#env = options.env ?? process.env;
    this.#noAudioMs = options.noAudioTimeoutMs ?? DEFAULT_NO_AUDIO_MS;
    this.#latencyMs = options.latencyMs ?? MICROPHONE_CHUNK_MS;
  }

  get description(): string {
    const backend = this.#resolved ?? (this.#backend === 'auto' ? 'parec or arecord' : this.#backend);
    return `${this.#device === 'default' ? 'default microphone' : `microphone "${this.#device}"`} (${backend})`;
  }

  /** The recorder the next `chunks()` call will use. */
  async resolveBackend(): Promise<'parec' | 'arecord'> {
    // Re-checked on every start: after an unplug or a server restart the right choice may have changed.
    this.#resolved = this.#backend === 'auto' ? ((await soundServerAnswers(this.#env)) ? 'parec' : 'arecord') : this.#backend;
    return this.#resolved;
  }

  async *chunks(signal: AbortSignal): AsyncGenerator<Int16Array> {
    if (signal.aborted) return;
    const tool = await this.resolveBackend();
    if (signal.aborted) return;
    if (tool === 'arecord') {
      yield* this.#record(tool, signal);
      return;
    }
    // Through the sound server: a new recording whenever its microphones change (see watchSourceChanges).
    let recording: AbortController | undefined;
    let changed = false;
    const stopWatching = watchSourceChanges(this.#env, () => {
      changed = true;
      recording?.abort();
    });
    try {
      while (!signal.aborted) {
        changed = false;
        recording = new AbortController();
        const stopRecording = () => recording?.abort();
        signal.addEventListener('abort', stopRecording);
        try {
          yield* this.#record(tool, recording.signal);
        } finally {
          signal.removeEventListener('abort', stopRecording);
        }
        if (!changed) return;
      }
    } finally {
      stopWatching();
    }
  }

  /** One recording, until `signal` aborts; throws AudioDeviceError when the recorder fails or ends by itself. */
  async *#record(tool: 'parec' | 'arecord', signal: AbortSignal): AsyncGenerator<Int16Array> {
    const recorder = new AudioProcess(tool, this.#recorderArgs(tool), { env: this.#env, stdin: 'ignore', stdout: 'pipe' });
    const stop = () => recorder.kill();
    signal.addEventListener('abort', stop);
    try {
      try {
        yield* readPcmStream(recorder.child.stdout!, signal, { stallMs: this.#noAudioMs });
      } catch (error) {
        if (error instanceof StalledStreamError) {
          throw noAudioFailure(tool, this.#device, error.idleMs, recorder.stderrSummary());
        }
        throw new AudioDeviceError(
          `reading the ${this.description} failed: ${(error as Error).message}`,
          'Restart JARVIS; if it repeats, set audio.input.backend to the other recorder.',
          { cause: error },
        );
      }
      if (signal.aborted) return;
      // The recorder's output ended while we still wanted audio: it failed or the device went away.
      const end = await within(recorder.exited, EXIT_GRACE_MS);
      throw processFailure(
        tool,
        this.#device,
        end ?? { code: null, signal: null, killed: false },
        recorder.stderrSummary(),
        this.#backend === 'auto' && tool === 'arecord',
      );
    } finally {
      signal.removeEventListener('abort', stop);
      recorder.kill();
    }
  }

  #recorderArgs(tool: 'parec' | 'arecord'): string[] {
    if (tool === 'parec') {
      const args = [
        '--raw',
        '--format=s16le',
        `--rate=${CAPTURE_SAMPLE_RATE}`,
        '--channels=1',
        `--latency-msec=${this.#latencyMs}`,
        '--client-name=jarvis',
        '--stream-name=microphone',
      ];
      // pacat has no device called "default": leaving it out is how to ask for the default source.
      if (this.#device !== 'default') args.push(`--device=${this.#device}`);
      return args;
    }
    return [
      '-q',
      '-t', 'raw',
      '-f', 'S16_LE',
      '-c', '1',
      '-r', String(CAPTURE_SAMPLE_RATE),
      '-D', this.#device,
      `--period-time=${this.#latencyMs * 1000}`,
      // Generous buffer: a busy event loop must not make ALSA drop audio.
      `--buffer-time=${Math.max(200, this.#latencyMs * 10) * 1000}`,
    ];
  }
}
