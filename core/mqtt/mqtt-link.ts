import { EventEmitter } from 'node:events';
import { connect, type MqttClient } from 'mqtt';
import { backoffMs } from '../../base/backoff.ts';
import { systemClock, type Clock } from '../../base/clock.ts';
import type { JarvisError } from '../../base/errors.ts';
import { brokerError, type BrokerSettings } from './broker.ts';

/**
 * One connection to the MQTT broker, kept up: a last will the broker publishes if the connection dies, and
 * reconnection after the broker goes away, waiting `reconnectMs`, then twice as long each failure, up to
 * `reconnectMaxMs` (base/backoff.ts, as the microphone and the downloads retry). It never throws at its owner:
 * a broker that is down or refuses JARVIS is a `status` event with the reason and its fix.
 */

export interface RetainedMessage {
  readonly topic: string;
  readonly payload: string;
}

export interface MqttLinkOptions {
  /** Published retained by the broker when the connection dies, and by the link itself on a clean close. */
  readonly will: RetainedMessage;
  /** Subscribed on every connection (the session is clean, so nothing carries over). */
  readonly subscriptions: readonly string[];
  readonly reconnectMs: number;
  readonly reconnectMaxMs: number;
  /** Paces the reconnection attempts. */
  readonly clock?: Clock;
}

export type MqttStatus =
  | { readonly connected: true; /** Topics the broker would not let JARVIS subscribe to. */ readonly refused: readonly string[] }
  | { readonly connected: false; readonly error: JarvisError };

export type MqttLinkEvents = {
  status: [MqttStatus];
  message: [topic: string, payload: Buffer];
};

/** How long a clean close waits for the broker to take the goodbye before cutting the connection. */
const CLOSE_TIMEOUT_MS = 2000;

export class MqttLink extends EventEmitter<MqttLinkEvents> {
  readonly #client: MqttClient;
  readonly #clock: Clock;
  #failures = 0;
  #lastError: unknown;
  #cancelRetry: (() => void) | undefined;
  #disposed = false;

  constructor(
    readonly broker: BrokerSettings,
    private readonly options: MqttLinkOptions,
  ) {
    super();
    this.#clock = options.clock ?? systemClock;
    const { will } = options;
    this.#client = connect(broker.url, { ...broker.options, will: { topic: will.topic, payload: Buffer.from(will.payload), retain: true, qos: 1 } });
    this.#client.on('connect', () => this.#onConnect());
    this.#client.on('error', (error) => {
      this.#lastError = error;
    });
    this.#client.on('close', () => this.#onClose());
    this.#client.on('message', (topic, payload) => this.emit('message', topic, payload));
  }

  get connected(): boolean {
    return this.#client.connected && !this.#disposed;
  }

  /** Sends now when connected; while the broker is away it is dropped (the owner publishes its state on reconnecting). */
  publish(topic: string, payload: string, options: { retain: boolean; qos?: 0 | 1 }): void {
    if (!this.connected) return;
    // A publish cut short by a lost connection is not an error here: the state is published again on reconnecting.
    this.#client.publish(topic, payload, { retain: options.retain, qos: options.qos ?? 0 }, () => {});
  }

  /** Says goodbye (the will, published by us: a clean disconnect does not trigger it) and closes. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#cancelRetry?.();
    const client = this.#client;
    const { will } = this.options;
    const goodbye = client.connected ? client.publishAsync(will.topic, will.payload, { retain: true, qos: 1 }).catch(() => undefined) : Promise.resolve(undefined);
    this.#disposed = true;
    await withTimeout(goodbye, CLOSE_TIMEOUT_MS);
    await withTimeout(client.endAsync(!client.connected).catch(() => {}), CLOSE_TIMEOUT_MS);
    if (!client.disconnected) client.end(true);
    this.removeAllListeners();
  }

  #onConnect(): void {
    this.#failures = 0;
    this.#lastError = undefined;
    const topics = [...this.options.subscriptions];
    this.#client.subscribe(topics, { qos: 1 }, (error, granted) => {
      if (this.#disposed) return;
      // MQTT 3.1.1 grants 0x80 for a topic the broker's ACL refuses.
      const refused = error ? topics : (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      this.emit('status', { connected: true, refused });
    });
  }

  #onClose(): void {
    if (this.#disposed || this.#cancelRetry) return;
    const error = brokerError(this.#lastError ?? Object.assign(new Error('the broker closed the connection'), { code: 'ECONNRESET' }), this.broker.url);
    this.#lastError = undefined;
    this.emit('status', { connected: false, error });
    const waitMs = backoffMs(this.options.reconnectMs, this.#failures++, this.options.reconnectMaxMs);
    this.#cancelRetry = this.#clock.setTimeout(() => {
      this.#cancelRetry = undefined;
      if (!this.#disposed) this.#client.reconnect();
    }, waitMs);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
