import QRCode from 'qrcode';
import type { Assistant, RemoteRequest } from '../pipeline/assistant.ts';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { type Ack, type AckError, type CommandName, type CommandPayload, type CommandResults, LIMITS, type Role } from '../protocol/wire.ts';
import { concatInt16, samplesToMs } from '../../voice/pcm.ts';
import { CAPTURE_SAMPLE_RATE } from '../../voice/ports.ts';
import { PairingError, type Device, type DeviceStore } from './device-store.ts';
import type { ModelsSource } from './live-feed.ts';
import { PairingGuard } from './pairing-guard.ts';

/**
 * What each command does, once the server has checked that the client may send it and that its payload is
 * well-formed. Every result is an Ack; a failure says why and, where the user can do something, what.
 */

export interface ModelSwitcher extends ModelsSource {
  switchModel(id: string): Promise<void>;
  /** Tries failed downloads again now; false when none is waiting. */
  retryDownloads(): boolean;
}

/** One connected client, as the command handlers see it. */
export interface ClientSession {
  readonly id: string;
  readonly deviceName: string;
  /** The client's network address, as the server saw it. */
  readonly address: string;
  /** The client runs on this computer (loopback, or one of its own addresses). */
  readonly fromThisMachine: boolean;
  /** Becomes a paired device (the server then sends it the snapshot). */
  paired(device: Device): void;
  /** Receives the answers' audio ('speech' events) or stops receiving it. */
  listen(enabled: boolean): void;
}

export interface CommandDeps {
  assistant: Assistant;
  devices: DeviceStore;
  models: ModelSwitcher;
  log: Logger;
  /** The URL a phone should open, for the QR code. */
  pairingUrl: () => string;
  /** server.pairFromThisComputer: a controller code shown here may be redeemed here. */
  pairFromThisComputer?: boolean;
  /** A tap's yes or no to the confirmation question `id` (core/mcp); false when it no longer waits. */
  confirm?: (id: number, yes: boolean) => boolean;
}

interface Talk {
  session: string;
  request: RemoteRequest;
  chunks: Int16Array[];
  samples: number;
}

export const fail = (code: AckError['code'], message: string, fix?: string): AckError => ({ ok: false, code, message, ...(fix ? { fix } : {}) });

export class CommandHandlers {
  readonly #pairing = new PairingGuard();
  /**
   * Controller codes shown by a screen on this computer, until they expire. Such a code is for a person to type
   * on another device: redeemed from this computer it would let any local program make itself a controller.
   */
  readonly #shownHere = new Map<string, number>();
  /** One push-to-talk at a time, whoever holds the button last. */
  #talk: Talk | undefined;

  constructor(private readonly deps: CommandDeps) {}

  async handle<C extends CommandName>(session: ClientSession, command: C, payload: CommandPayload<C>): Promise<Ack<CommandResults[C]>> {
    const result = await this.#dispatch(session, command, payload as never);
    return result as Ack<CommandResults[C]>;
  }

  /** The client went away: a recording it was making is dropped. */
  sessionClosed(session: ClientSession): void {
    if (this.#talk?.session === session.id) this.#cancelTalk();
  }

  async #dispatch(session: ClientSession, command: CommandName, payload: never): Promise<Ack<Record<string, unknown>>> {
    const { assistant } = this.deps;
    switch (command) {
      case 'pair':
        return this.#pair(session, payload as CommandPayload<'pair'>);
      case 'pairing-code':
        return this.#pairingCode(session, (payload as CommandPayload<'pairing-code'>).role);
      case 'ask':
        // The answer arrives as run events; the ack only says the question was taken.
        void assistant.ask((payload as CommandPayload<'ask'>).text).catch((error: unknown) => this.deps.log.warn({ err: describeError(error) }, 'typed question failed'));
        return { ok: true };
      case 'stop':
        this.#cancelTalk();
        assistant.stop();
        return { ok: true };
      case 'mute': {
        const { muted } = payload as CommandPayload<'mute'>;
        assistant.setMuted(muted);
        return { ok: true, muted };
      }
      case 'volume': {
        const { volume } = payload as CommandPayload<'volume'>;
        assistant.setVolume(volume);
        return { ok: true, volume };
      }
      case 'talk-start': {
        this.#cancelTalk();
        const request = assistant.beginRemoteRequest();
        this.#talk = { session: session.id, request, chunks: [], samples: 0 };
        return { ok: true, runId: request.runId };
      }
      case 'talk-chunk':
        return this.#talkChunk(session, payload as CommandPayload<'talk-chunk'>);
      case 'talk-end': {
        const talk = this.#talk;
        if (!talk || talk.session !== session.id) return fail('invalid', 'no push-to-talk in progress from this device');
        if (talk.samples === 0) {
          this.#cancelTalk();
          return fail('invalid', 'no audio arrived from the microphone', 'Allow this page to use the microphone, then hold the button while you speak.');
        }
        this.#finishTalk(talk);
        return { ok: true, runId: talk.request.runId };
      }
      case 'talk-cancel':
        if (this.#talk?.session === session.id) this.#cancelTalk();
        return { ok: true };
      case 'switch-model':
        return this.#switchModel((payload as CommandPayload<'switch-model'>).id);
      case 'retry-downloads':
        return { ok: true, retried: this.deps.models.retryDownloads() };
      case 'forget-conversation':
        await assistant.forgetConversation();
        return { ok: true };
      case 'confirm': {
        const { id, answer } = payload as CommandPayload<'confirm'>;
        if (this.deps.confirm?.(id, answer)) return { ok: true };
        return fail('invalid', 'that question is no longer waiting for an answer', 'Ask JARVIS again.');
      }
      case 'listen': {
        const { enabled } = payload as CommandPayload<'listen'>;
        session.listen(enabled);
        return { ok: true, enabled };
      }
    }
  }

  #pair(session: ClientSession, { code, name }: CommandPayload<'pair'>): Ack<CommandResults['pair']> {
    // Checked before the code, so that guesses cost the same whether they are right or wrong.
    const attempt = this.#pairing.attempt(session.address);
    if (!attempt) return fail('rate-limited', 'too many pairing attempts', 'Wait a minute, then enter the code shown on the HUD.');
    this.#forgetExpiredShownCodes();
    if (session.fromThisMachine && this.#shownHere.has(code)) {
      attempt.wrong();
      return fail(
        'forbidden',
        'a controller code shown on this computer pairs another device',
        'Type the code on your phone or tablet. To control JARVIS from this computer, run `jarvis devices pair` here.',
      );
    }
    try {
      const { device, token } = this.deps.devices.redeemCode(code, name);
      attempt.right();
      this.#shownHere.delete(code);
      this.deps.log.info({ device: device.id, name: device.name, role: device.role }, 'device paired');
      session.paired(device);
      return { ok: true, token, role: device.role, deviceId: device.id };
    } catch (error) {
      if (error instanceof PairingError) {
        attempt.wrong();
        return fail('bad-code', error.message, error.fix);
      }
      throw error;
    }
  }

  async #pairingCode(session: ClientSession, role: Role): Promise<Ack<CommandResults['pairing-code']>> {
    const issued = this.deps.devices.issueCode(role);
    if (session.fromThisMachine && role === 'controller' && !this.deps.pairFromThisComputer) {
      this.#shownHere.set(issued.code, issued.expiresAt);
      // Only the newest few codes are alive in the store anyway.
      if (this.#shownHere.size > 16) this.#shownHere.delete(this.#shownHere.keys().next().value!);
    }
    const url = `${this.deps.pairingUrl()}/#pair=${issued.code}`;
    const qrSvg = await QRCode.toString(url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    return { ok: true, code: issued.code, expiresAt: issued.expiresAt, url, qrSvg, role: issued.role };
  }

  #forgetExpiredShownCodes(): void {
    const now = Date.now();
    for (const [code, expiresAt] of this.#shownHere) if (expiresAt <= now) this.#shownHere.delete(code);
  }

  #talkChunk(session: ClientSession, bytes: Uint8Array): Ack {
    const talk = this.#talk;
    if (!talk || talk.session !== session.id) return fail('invalid', 'no push-to-talk in progress from this device');
    // Copied into its own aligned buffer: socket.io's Buffers may share (and start anywhere in) a larger one.
    // s16le, and every platform Node runs on is little-endian.
    const samples = new Int16Array(bytes.byteLength / 2);
    new Uint8Array(samples.buffer).set(bytes);
    talk.chunks.push(samples);
    talk.samples += samples.length;
    if (samplesToMs(talk.samples, CAPTURE_SAMPLE_RATE) >= LIMITS.talkMaxMs) this.#finishTalk(talk);
    return { ok: true };
  }

  #finishTalk(talk: Talk): void {
    if (this.#talk === talk) this.#talk = undefined;
    void talk.request.finish(concatInt16(...talk.chunks)).catch((error: unknown) => this.deps.log.warn({ err: describeError(error) }, 'push-to-talk turn failed'));
  }

  #cancelTalk(): void {
    this.#talk?.request.cancel();
    this.#talk = undefined;
  }

  async #switchModel(id: string): Promise<Ack> {
    try {
      await this.deps.models.switchModel(id);
      return { ok: true };
    } catch (error) {
      const { message, fix } = describeError(error);
      return fail('failed', message, fix);
    }
  }
}
