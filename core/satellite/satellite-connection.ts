import net from 'node:net';
import { EventDecoder, writeEvent, type FrameLimits, type WyomingEvent } from '../wyoming/framing.ts';

/**
 * JARVIS's end of one TCP connection to a satellite (a Wyoming server that JARVIS, like Home Assistant, connects
 * to): events in, one at a time and in order, and events out. While an event is handled the socket is paused, so a
 * satellite that streams faster than the wake word and VAD run is held back by TCP instead of filling memory.
 *
 * A satellite that goes quiet is pinged (wyoming-satellite answers `ping` with `pong`); one that still says nothing
 * is taken for gone (a Pi unplugged leaves no FIN behind) and the connection closes, so it is reconnected.
 */

export interface SatelliteConnectionOptions {
  readonly limits: FrameLimits;
  /** Nothing received for this long: a `ping`; nothing for this long again: closed. */
  readonly quietMs: number;
}

export class SatelliteConnection {
  readonly #decoder: EventDecoder;
  readonly #queue: WyomingEvent[] = [];
  #busy = false;
  #pinged = false;
  readonly closed: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    options: SatelliteConnectionOptions,
    private readonly handle: (event: WyomingEvent) => Promise<void> | void,
    onError: (error: unknown) => void,
  ) {
    this.#decoder = new EventDecoder(options.limits);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.#received(chunk, onError));
    socket.on('error', onError);
    socket.setTimeout(options.quietMs, () => {
      if (this.#pinged) {
        onError(new Error(`it answered nothing for ${Math.round((2 * options.quietMs) / 1000)} s, not even a ping`));
        socket.destroy();
        return;
      }
      this.#pinged = true;
      void this.send({ type: 'ping', data: {} });
    });
  }

  /** Connects, or rejects with the reason (refused, unreachable, no answer within `timeoutMs`). */
  static open(
    address: { readonly host: string; readonly port: number; readonly timeoutMs: number },
    options: SatelliteConnectionOptions,
    handle: (event: WyomingEvent) => Promise<void> | void,
    onError: (error: unknown) => void,
  ): Promise<SatelliteConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address.host, port: address.port });
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      socket.setTimeout(address.timeoutMs, () => fail(Object.assign(new Error(`no answer within ${Math.round(address.timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        socket.setTimeout(0);
        socket.setNoDelay(true);
        resolve(new SatelliteConnection(socket, options, handle, onError));
      });
    });
  }

  get open(): boolean {
    return !this.socket.destroyed;
  }

  /** Resolves once the event is written (or the socket is gone); a slow satellite holds the sender back. */
  send(event: WyomingEvent): Promise<void> {
    return writeEvent(this.socket, event);
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  #received(chunk: Buffer, onError: (error: unknown) => void): void {
    this.#pinged = false;
    try {
      this.#queue.push(...this.#decoder.push(chunk));
    } catch (error) {
      // A frame that cannot be read leaves the stream out of step: start over with a new connection.
      onError(error);
      this.socket.destroy();
      return;
    }
    if (!this.#busy && this.#queue.length > 0) void this.#drain(onError);
  }

  async #drain(onError: (error: unknown) => void): Promise<void> {
    this.#busy = true;
    this.socket.pause();
    try {
      for (let event = this.#queue.shift(); event && !this.socket.destroyed; event = this.#queue.shift()) await this.handle(event);
    } catch (error) {
      onError(error);
      this.socket.destroy();
    } finally {
      this.#busy = false;
    }
    if (!this.socket.destroyed) this.socket.resume();
  }
}
