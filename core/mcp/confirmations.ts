import { EventEmitter } from 'node:events';
import type { Clock } from '../../base/clock.ts';
import type { RunRecorder } from '../events.ts';
import type { ConfirmationView } from '../protocol/wire.ts';
import { notDoneSentence } from './spoken-call.ts';

/**
 * The one question JARVIS is waiting on before a "confirm" tool runs ("Unlock the front door?"). It is answered by
 * voice (ConfirmingResponder: "yes" / "no" as the next request), or by a tap on a screen (the 'confirm' command);
 * another request, or no answer within `timeoutMs`, drops it: nothing is done, and the expiry is said aloud
 * ('expired' carries the sentence). Only one question waits at a time: a newer one replaces the older, so a late
 * tap can never confirm something other than what it showed (it names the question's id).
 */

export interface Confirmation {
  readonly id: number;
  readonly question: string;
  /** The daemon clock's epoch ms after which the question lapses. */
  readonly expiresAt: number;
  /** Carries out the call; resolves to the sentence to say ("Front door unlocked." or what went wrong). */
  readonly carryOut: (signal: AbortSignal, run?: RunRecorder) => Promise<string>;
}

type Events = { changed: [ConfirmationView | undefined]; expired: [sentence: string] };

export class Confirmations extends EventEmitter<Events> {
  #pending: Confirmation | undefined;
  #cancelTimeout: (() => void) | undefined;
  #nextId = 1;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  get pending(): ConfirmationView | undefined {
    const p = this.#pending;
    return p && { id: p.id, question: p.question, expiresAt: p.expiresAt };
  }

  /** Waits for yes or no to `question`; returns its id. */
  ask(question: string, carryOut: Confirmation['carryOut']): number {
    const id = this.#nextId++;
    this.#clear();
    this.#pending = { id, question, expiresAt: this.clock.now() + this.timeoutMs, carryOut };
    this.#cancelTimeout = this.clock.setTimeout(() => {
      if (this.#pending?.id !== id) return;
      this.#clear();
      this.emit('changed', undefined);
      this.emit('expired', notDoneSentence(question, 'unanswered'));
    }, this.timeoutMs);
    this.emit('changed', this.pending);
    return id;
  }

  /**
   * Settles the question `id` (any waiting one when undefined). Yes: the call runs, and the promise resolves to
   * what it did; no: to "Okay, I won't …". Undefined when no such question is waiting (answered, lapsed, replaced).
   */
  answer(yes: boolean, signal: AbortSignal, options: { id?: number; run?: RunRecorder } = {}): Promise<string> | undefined {
    const { id, run } = options;
    const pending = this.#pending;
    if (!pending || (id !== undefined && pending.id !== id)) return undefined;
    this.#clear();
    this.emit('changed', undefined);
    return yes ? pending.carryOut(signal, run) : Promise.resolve(notDoneSentence(pending.question, 'declined'));
  }

  /** Another request came instead of an answer: the question is dropped silently, nothing is done. */
  drop(): void {
    if (!this.#pending) return;
    this.#clear();
    this.emit('changed', undefined);
  }

  dispose(): void {
    this.#clear();
    this.removeAllListeners();
  }

  #clear(): void {
    this.#cancelTimeout?.();
    this.#cancelTimeout = undefined;
    this.#pending = undefined;
  }
}
