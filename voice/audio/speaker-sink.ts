import { PlaybackStoppedError } from '../../base/errors.ts';
import type { AudioSink, PcmAudio } from '../ports.ts';
import { AudioProcess, within } from './audio-process.ts';
import { processFailure } from './device-errors.ts';
import { soundServerAnswers } from './sound-server.ts';

/**
 * The speaker, through pacat (PulseAudio/PipeWire) or aplay (ALSA). Players take raw PCM at one rate, so there
 * is one player process per sample rate; it stays alive across consecutive chunks of that rate so that
 * sentences follow each other without a gap. Neither tool reports when a sample is audible, so the sink keeps
 * its own clock: a chunk starts when the previous one ends (or after the player's latency if the player was
 * idle) and is heard by its start plus its duration.
 */

export type OutputBackend = 'auto' | 'pacat' | 'aplay';
type Tool = 'pacat' | 'aplay';

export interface SpeakerOptions {
  backend?: OutputBackend;
  /** Backend device name; "default" is the system's default output. */
  device?: string;
  /** Environment for the player (PULSE_SERVER, ALSA settings); tests point it at their own sound server. */
  env?: NodeJS.ProcessEnv;
  /**
   * Requested player buffer (pacat --latency-msec, aplay --buffer-time). Smaller starts sooner; larger survives a
   * busy machine without dropouts. stop() kills the player, so it is silent at once whatever this is.
   */
  latencyMs?: number;
  /** Close an idle player after this long, so an ALSA device is not held between replies. */
  idleCloseMs?: number;
}

/**
 * 100 ms survives a busy machine without dropouts (50 ms underran under load, with pacat and aplay alike);
 * stop() kills the player, so a larger buffer does not delay silence.
 */
const DEFAULT_LATENCY_MS: Record<Tool, number> = { pacat: 100, aplay: 100 };
const DEFAULT_IDLE_CLOSE_MS = 3000;
/** Process start plus connecting to the server, before the first sample can sound. */
const STARTUP_MS = 30;
const CLOSE_GRACE_MS = 2000;

interface Queued {
  readonly audio: PcmAudio;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Scheduled extends Queued {
  readonly player: Player;
  timers: NodeJS.Timeout[];
}

interface Player {
  readonly process: AudioProcess;
  readonly rate: number;
  readonly latencyMs: number;
  /** performance.now() from which the player can make sound at all (process started, connected). */
  readonly readyAt: number;
  /** performance.now() at which everything written so far will have been heard; 0 before the first write. */
  endsAt: number;
  retired: boolean;
}

export class SpeakerSink implements AudioSink {
  readonly #backend: OutputBackend;
  readonly #device: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #latencyMs: number | undefined;
  readonly #idleCloseMs: number;
  readonly #listeners = new Set<(audio: PcmAudio) => void>();
  /** Waiting for a player (backend detection, or the previous rate's audio to finish). */
  readonly #queue: Queued[] = [];
  /** Written to a player, not yet heard. */
  readonly #scheduled = new Set<Scheduled>();
  readonly #players = new Set<Player>();
  #current: Player | undefined;
  #tool: Promise<Tool> | undefined;
  #resolvedTool: Tool | undefined;
  /** A player of another rate that must finish before the next one starts. */
  #draining: Player | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #dispatching = false;
  #closed = false;
  #drainWaiters: (() => void)[] = [];

  constructor(options: SpeakerOptions = {}) {
    this.#backend = options.backend ?? 'auto';
    this.#device = options.device ?? 'default';
    this.#env = options.env ?? process.env;
    this.#latencyMs = options.latencyMs;
    this.#idleCloseMs = options.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS;
  }

  get description(): string {
    const backend = this.#resolvedTool ?? (this.#backend === 'auto' ? 'pacat or aplay' : this.#backend);
    return `${this.#device === 'default' ? 'default speaker' : `speaker "${this.#device}"`} (${backend})`;
  }

  /** Process ids of the running players (for diagnostics and tests). */
  get playerPids(): number[] {
    return [...this.#players].flatMap((p) => (p.process.running && p.process.pid !== undefined ? [p.process.pid] : []));
  }

  play(audio: PcmAudio): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('SpeakerSink.play() after close()'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ audio, resolve, reject });
      this.#dispatch();
    });
  }

  stop(): void {
    this.#draining = undefined;
    for (const player of this.#players) player.process.kill();
    this.#players.clear();
    this.#current = undefined;
    const stopped = new PlaybackStoppedError();
    for (const item of this.#scheduled) {
      item.timers.forEach(clearTimeout);
      item.reject(stopped);
    }
    this.#scheduled.clear();
    for (const item of this.#queue.splice(0)) item.reject(stopped);
    this.#settleIfDrained();
  }

  onPlayed(listener: (audio: PcmAudio) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Lets queued audio finish, then ends the players. Call stop() first to cut it short. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#queue.length > 0 || this.#scheduled.size > 0) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    const players = [...this.#players];
    this.#current = undefined;
    for (const player of players) this.#retire(player);
    await Promise.all(
      players.map(async (player) => {
        if (!(await within(player.process.exited, CLOSE_GRACE_MS))) player.process.kill();
      }),
    );
  }

  /** Moves queued chunks onto players, in order, for as long as that can happen now. */
  #dispatch(): void {
    if (this.#dispatching || this.#draining) return;
    this.#dispatching = true;
    void this.#backendTool()
      .then((tool) => {
        this.#dispatching = false;
        this.#dispatchReady(tool);
      })
      .catch((error: unknown) => {
        this.#dispatching = false;
        for (const item of this.#queue.splice(0)) item.reject(error);
      });
  }

  #dispatchReady(tool: Tool): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    while (this.#queue.length > 0) {
      const item = this.#queue[0]!;
      if (item.audio.samples.length === 0) {
        this.#queue.shift();
        item.resolve();
        continue;
      }
      const current = this.#current;
      if (current && current.rate !== item.audio.sampleRate) {
        // A new rate needs a new player. Starting it early on our clock's estimate risked two voices overlapping;
        // the old player exits once the server has played its last sample, which costs a short pause instead.
        this.#retire(current);
        this.#current = undefined;
        this.#draining = current;
        void within(current.process.exited, Math.max(0, current.endsAt - performance.now()) + CLOSE_GRACE_MS).then(() => {
          if (this.#draining !== current) return;
          this.#draining = undefined;
          current.process.kill();
          this.#dispatch();
        });
        return;
      }
      const player = current ?? (this.#current = this.#spawn(tool, item.audio.sampleRate));
      this.#queue.shift();
      this.#write(player, item);
    }
  }

  #write(player: Player, item: Queued): void {
    const { samples, sampleRate } = item.audio;
    const now = performance.now();
    // An idle (or new) player needs its buffer's worth of time before a sample sounds; a busy one plays it next.
    const startsAt = Math.max(Math.max(now, player.readyAt) + player.latencyMs, player.endsAt);
    const endsAt = startsAt + (samples.length / sampleRate) * 1000;
    player.endsAt = endsAt;
    player.process.child.stdin!.write(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
    const scheduled: Scheduled = { ...item, player, timers: [] };
    scheduled.timers.push(
      setTimeout(() => {
        for (const listener of this.#listeners) listener(item.audio);
      }, startsAt - now),
      setTimeout(() => {
        this.#scheduled.delete(scheduled);
        item.resolve();
        this.#settleIfDrained();
      }, endsAt - now),
    );
    this.#scheduled.add(scheduled);
  }

  #spawn(tool: Tool, rate: number): Player {
    const latencyMs = this.#latencyMs ?? DEFAULT_LATENCY_MS[tool];
    const process = new AudioProcess(tool, this.#playerArgs(tool, rate, latencyMs), { env: this.#env, stdin: 'pipe', stdout: 'ignore' });
    const player: Player = { process, rate, latencyMs, readyAt: performance.now() + STARTUP_MS, endsAt: 0, retired: false };
    this.#players.add(player);
    void process.exited.then((end) => {
      this.#players.delete(player);
      if (this.#current === player) this.#current = undefined;
      if (end.killed || (player.retired && end.code === 0)) return;
      // The player died on its own: no server, no such device, or the device went away mid-sentence.
      // Under 'auto', look for a sound server again next time: it may have been (re)started since.
      if (this.#backend === 'auto') this.#tool = undefined;
      const error = processFailure(tool, this.#device, end, process.stderrSummary(), this.#backend === 'auto' && tool === 'aplay');
      for (const item of [...this.#scheduled]) {
        if (item.player !== player) continue;
        item.timers.forEach(clearTimeout);
        this.#scheduled.delete(item);
        item.reject(error);
      }
      this.#settleIfDrained();
    });
    return player;
  }

  /** Ends the player's input: it plays out what it has, then exits by itself. */
  #retire(player: Player): void {
    player.retired = true;
    player.process.child.stdin?.end();
  }

  #settleIfDrained(): void {
    if (this.#queue.length > 0 || this.#scheduled.size > 0) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#current && !this.#closed) {
      const idle = this.#current;
      this.#idleTimer = setTimeout(() => {
        if (this.#current !== idle) return;
        this.#current = undefined;
        this.#retire(idle);
      }, this.#idleCloseMs);
      this.#idleTimer.unref();
    }
  }

  #backendTool(): Promise<Tool> {
    this.#tool ??= (async (): Promise<Tool> => {
      if (this.#backend !== 'auto') return this.#backend;
      return (await soundServerAnswers(this.#env)) ? 'pacat' : 'aplay';
    })().then((tool) => (this.#resolvedTool = tool));
    return this.#tool;
  }

  #playerArgs(tool: Tool, rate: number, latencyMs: number): string[] {
    if (tool === 'pacat') {
      const args = [
        '--playback',
        '--raw',
        '--format=s16le',
        `--rate=${rate}`,
        '--channels=1',
        `--latency-msec=${latencyMs}`,
        '--client-name=jarvis',
        '--stream-name=speech',
      ];
      // pacat has no device called "default": leaving it out is how to ask for the default sink.
      if (this.#device !== 'default') args.push(`--device=${this.#device}`);
      return args;
    }
    return ['-q', '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', String(rate), '-D', this.#device, `--buffer-time=${latencyMs * 1000}`];
  }
}
