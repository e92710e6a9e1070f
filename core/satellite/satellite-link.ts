import { backoffMs } from '../../base/backoff.ts';
import { sleep, type Clock } from '../../base/clock.ts';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Synthesizer, VoiceActivityDetector, WakeWordDetector } from '../../voice/ports.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import type { Problem } from '../protocol/state.ts';
import type { EventData, WyomingEvent } from '../wyoming/framing.ts';
import { SatelliteConnection } from './satellite-connection.ts';
import { SatellitePipeline, UnsupportedPipelineError } from './satellite-pipeline.ts';
import { SatelliteSink } from './satellite-sink.ts';

/**
 * JARVIS's link to one satellite in another room, as Home Assistant's Wyoming integration keeps one: connect (in
 * the background, retried with back-off while it cannot be reached, a problem on the HUD meanwhile), say
 * `run-satellite`, then run each `run-pipeline` the satellite asks for (core/satellite/satellite-pipeline.ts) and
 * play the answers on its speaker. The satellite gets its own wake word detector and VAD, made on its first request
 * and kept while JARVIS runs. A satellite that goes away mid-turn stops that turn; it is reconnected.
 */

export type SatelliteSettings = JarvisConfig['satellites'][number];

export interface SatelliteLinkDeps {
  readonly assistant: Assistant;
  /** The daemon's voice; none: the satellite's answers are text only (its `transcript`, and the HUD). */
  readonly synthesizer: Synthesizer | undefined;
  readonly config: JarvisConfig;
  readonly createWakeDetector: () => Promise<WakeWordDetector>;
  readonly createVad: () => Promise<VoiceActivityDetector>;
  readonly clock: Clock;
  readonly log: Logger;
}

/** How long a connection attempt may take (an address where nothing answers, not even a refusal). */
const CONNECT_TIMEOUT_MS = 5000;
/** A satellite that sent nothing for this long is pinged, and dropped after as long again (Home Assistant: 2 s + 5 s). */
const QUIET_MS = 5000;

export class SatelliteLink {
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #connection: SatelliteConnection | undefined;
  #sink: SatelliteSink | undefined;
  #pipeline: SatellitePipeline | undefined;
  #engines: Promise<{ wake: WakeWordDetector; vad: VoiceActivityDetector }> | undefined;
  #running: Promise<void> | undefined;
  #failures = 0;

  constructor(
    readonly settings: SatelliteSettings,
    private readonly deps: SatelliteLinkDeps,
  ) {
    this.#log = deps.log.child({ satellite: settings.name });
  }

  get problemId(): string {
    return `satellite-${this.settings.name}`;
  }

  /** Connected to the satellite now. */
  get connected(): boolean {
    return this.#connection?.open ?? false;
  }

  /** Connects in the background from now on; never waits for the satellite. */
  start(): void {
    this.#running ??= this.#run().catch((error: unknown) => this.#log.error({ err: describeError(error) }, 'satellite link stopped'));
  }

  async dispose(): Promise<void> {
    this.#abort.abort();
    this.#pipeline?.abandon();
    await this.#connection?.close();
    await this.#running;
    const engines = await this.#engines?.catch(() => undefined);
    await Promise.all([engines?.wake.dispose(), engines?.vad.dispose()]);
  }

  async #run(): Promise<void> {
    const { settings, deps } = this;
    const { signal } = this.#abort;
    while (!signal.aborted) {
      let received = false;
      let connection: SatelliteConnection;
      try {
        connection = await SatelliteConnection.open(
          { host: settings.host, port: settings.port, timeoutMs: CONNECT_TIMEOUT_MS },
          { limits: deps.config.wyoming.limits, quietMs: QUIET_MS },
          (event) => {
            received = true;
            return this.#handle(event);
          },
          (error) => this.#log.info({ err: describeError(error) }, 'satellite connection error'),
        );
      } catch (error) {
        await this.#retry(`cannot be reached (${describeError(error).message})`);
        continue;
      }
      if (signal.aborted) {
        await connection.close();
        break;
      }
      this.#connection = connection;
      const sink = new SatelliteSink(settings.name, (event) => connection.send(event), deps.clock);
      this.#sink = sink;
      this.#log.info(`satellite connected at ${settings.host}:${settings.port}`);
      // Home Assistant's first words to a satellite: it may start its pipelines now. The ping's pong says this
      // connection is the one it serves (it drops a second one unanswered), which clears the problem.
      await connection.send({ type: 'run-satellite', data: {} });
      await connection.send({ type: 'ping', data: {} });
      await connection.closed;
      this.#pipeline?.abandon();
      this.#pipeline = undefined;
      sink.stop();
      if (signal.aborted) break;
      if (!received) {
        // wyoming-satellite serves one pipeline at a time: it closes a second one without a word.
        await this.#retry('closed the connection at once: is Home Assistant (or another JARVIS) connected to it? A satellite serves one of them at a time');
        continue;
      }
      this.#log.warn('satellite disconnected; reconnecting');
      this.#failures = 0;
      await sleep(deps.clock, settings.reconnectMs, signal).catch(() => {});
    }
  }

  /** The problem the HUD shows while the satellite cannot be used, then the next try, later each time. */
  async #retry(why: string): Promise<void> {
    const { settings, deps } = this;
    const problem: Problem = {
      id: this.problemId,
      message: `The "${settings.name}" satellite${settings.area ? ` (${settings.area})` : ''} at ${settings.host}:${settings.port} ${why}.`,
      fix: `Check that it is on and its wyoming-satellite listens on port ${settings.port} (--uri 'tcp://0.0.0.0:${settings.port}'), or correct this satellite's host and port in "satellites" in the config. JARVIS keeps trying.`,
      blocking: false,
    };
    deps.assistant.reportProblem(problem);
    const waitMs = backoffMs(settings.reconnectMs, this.#failures++, settings.reconnectMaxMs);
    await sleep(deps.clock, waitMs, this.#abort.signal).catch(() => {});
  }

  async #handle(event: WyomingEvent): Promise<void> {
    if (this.#failures > 0 || this.deps.assistant.state.problems.some((p) => p.id === this.problemId)) {
      this.#failures = 0;
      this.deps.assistant.clearProblem(this.problemId);
    }
    try {
      switch (event.type) {
        case 'ping':
          await this.#send({ type: 'pong', data: typeof event.data.text === 'string' ? { text: event.data.text } : {} });
          return;
        case 'run-pipeline':
          await this.#startPipeline(event.data);
          return;
        case 'audio-start':
        case 'audio-chunk':
        case 'audio-stop':
          await this.#pipeline?.audio(event);
          return;
        case 'played':
          this.#sink?.played();
          return;
        case 'error':
          this.#log.warn({ code: event.data.code }, `the satellite says: ${String(event.data.text)}`);
          return;
        default:
          // pong, info, detection (its own wake word, before its run-pipeline), streaming-started…: nothing to do.
          return;
      }
    } catch (error) {
      // A request this link cannot serve, or an engine failure: that run ends, the link stays.
      const { code, message } = error instanceof UnsupportedPipelineError ? { code: error.code, message: error.message } : describeError(error);
      this.#log.warn({ code }, `satellite request refused: ${message}`);
      this.#pipeline?.abandon();
      this.#pipeline = undefined;
      await this.#send({ type: 'error', data: { text: message, code } });
    }
  }

  async #startPipeline(data: EventData): Promise<void> {
    this.#pipeline?.abandon();
    this.#pipeline = undefined;
    const { wake, vad } = await (this.#engines ??= this.#createEngines());
    const { deps, settings } = this;
    const sink = this.#sink;
    const pipeline = new SatellitePipeline(data, {
      assistant: deps.assistant,
      room: { name: settings.name, ...(settings.area ? { area: settings.area } : {}) },
      voice: deps.synthesizer && sink ? { synthesizer: deps.synthesizer, sink } : undefined,
      wake,
      vad,
      config: deps.config,
      send: (event) => this.#send(event),
      log: this.#log,
    });
    this.#pipeline = pipeline;
    void pipeline.ended.then(async () => {
      if (this.#pipeline !== pipeline) return;
      this.#pipeline = undefined;
      // An always-streaming satellite asks once: listening for the wake word goes on after each answer.
      if (pipeline.restartOnEnd && this.connected && !this.#abort.signal.aborted) await this.#startPipeline(data).catch(() => {});
    });
  }

  #createEngines(): Promise<{ wake: WakeWordDetector; vad: VoiceActivityDetector }> {
    const made = Promise.all([this.deps.createWakeDetector(), this.deps.createVad()]).then(([wake, vad]) => ({ wake, vad }));
    // A failed start is tried again on the next request, not remembered.
    made.catch(() => (this.#engines = undefined));
    return made;
  }

  #send(event: WyomingEvent): Promise<void> {
    return this.#connection?.send(event) ?? Promise.resolve();
  }
}
