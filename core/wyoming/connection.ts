import type net from 'node:net';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { EventDecoder, encodeEvent, WyomingFrameError, writeEvent, type FrameLimits, type WyomingEvent } from './framing.ts';
import { WyomingSession, type SessionContext } from './session.ts';

/**
 * One client's TCP connection: bytes → events → the session, one event at a time, in order. While an event is
 * being handled the socket is paused, so a client that sends faster than the engines work is held back by TCP
 * instead of filling memory. Anything that goes wrong (a malformed frame, a request that cannot be served, an
 * engine failure) is answered with an `error` event, and the connection ends; the server and the daemon go on.
 */

export interface ConnectionOptions extends Omit<SessionContext, 'send' | 'signal' | 'log' | 'maxAudioSeconds'> {
  readonly limits: FrameLimits & { readonly idleTimeoutMs: number; readonly maxAudioSeconds: number };
  readonly log: Logger;
}

export class WyomingConnection {
  readonly #decoder: EventDecoder;
  readonly #session: WyomingSession;
  readonly #abort = new AbortController();
  readonly #queue: WyomingEvent[] = [];
  #busy = false;
  #draining: Promise<void> | undefined;
  #ended = false;
  readonly #closed: Promise<void>;
  private readonly log: Logger;

  constructor(
    private readonly socket: net.Socket,
    readonly address: string,
    options: ConnectionOptions,
  ) {
    const log = options.log.child({ client: address });
    this.#decoder = new EventDecoder(options.limits);
    this.#session = new WyomingSession({
      engines: options.engines,
      config: options.config,
      log,
      send: (event) => this.#write(event),
      signal: this.#abort.signal,
      maxAudioSeconds: options.limits.maxAudioSeconds,
    });
    // Closed means released too: the daemon's shutdown waits for the wake word detector to go.
    this.#closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#abort.abort();
        // An engine call in flight finishes (or stops on the abort) before its detector is released under it.
        void (this.#draining ?? Promise.resolve())
          .then(() => this.#session.dispose())
          .catch((error: unknown) => log.warn({ err: describeError(error) }, 'wyoming: could not release a wake word detector'))
          .finally(resolve);
      }),
    );
    socket.on('data', (chunk: Buffer) => this.#received(chunk));
    // The client finished sending (e.g. `nc -N`): answer what it sent, then close.
    socket.on('end', () => {
      this.#ended = true;
      if (!this.#busy) this.#finish();
    });
    socket.on('error', (error) => log.debug({ err: describeError(error) }, 'wyoming: connection error'));
    socket.setTimeout(options.limits.idleTimeoutMs, () => {
      // A long transcription is not idleness: the client waits for its answer.
      if (!this.#busy) this.fail(new WyomingIdleError(options.limits.idleTimeoutMs));
    });
    this.log = log;
  }

  /** Resolves once the socket has closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Says why in an `error` event, then closes (at once if the socket cannot take it). */
  fail(error: unknown): void {
    if (this.socket.destroyed) return;
    const { code, message, fix } = error instanceof WyomingFrameError || error instanceof WyomingIdleError ? { code: error.code, message: error.message, fix: undefined } : describeError(error);
    this.log.info({ code, reason: message }, 'wyoming: request refused, connection closed');
    this.#queue.length = 0;
    this.socket.pause();
    this.socket.end(encodeEvent({ type: 'error', data: { text: fix ? `${message}. ${fix}` : message, code } }), () => this.socket.destroy());
  }

  /** Ends the connection now (the server is closing). */
  destroy(): void {
    this.socket.destroy();
  }

  #received(chunk: Buffer): void {
    let events: WyomingEvent[];
    try {
      events = this.#decoder.push(chunk);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.#queue.push(...events);
    if (!this.#busy && this.#queue.length > 0) this.#draining = this.#drain();
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    this.socket.pause();
    try {
      for (let event = this.#queue.shift(); event; event = this.#queue.shift()) {
        await this.#session.handle(event);
        if (this.socket.destroyed) return;
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) this.fail(error);
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#ended) this.#finish();
    else if (!this.socket.destroyed) this.socket.resume();
  }

  #finish(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  #write(event: WyomingEvent): Promise<void> {
    return writeEvent(this.socket, event);
  }
}

class WyomingIdleError extends Error {
  readonly code = 'idle-timeout';
  constructor(ms: number) {
    super(`nothing was sent for ${Math.round(ms / 1000)} s (wyoming.limits.idleTimeoutMs)`);
  }
}
