import QRCode from 'qrcode';
import type { Assistant, RemoteRequest } from '../pipeline/assistant.ts';
import { describeError } from '../../base/errors.ts';
import { sniffImageType } from '../../base/image-type.ts';
import type { ImageInput } from '../responder.ts';
import type { Logger } from '../../base/log.ts';
import { type Ack, type AckError, type CommandName, type CommandPayload, type CommandResults, LIMITS, type Role } from '../protocol/wire.ts';
import { concatInt16, samplesToMs } from '../../voice/pcm.ts';
import type { DocumentLinks } from './document-links.ts';
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
  /** The documents behind the answers' sources (core/knowledge), when any are read. */
  documents?: Pick<DocumentLinks, 'issue'>;
  /** Keeps a photo asked about (llm.roles.vision.keepPhotos, off by default: then photos are written nowhere). */
  keepPhoto?: (image: ImageInput, deviceName: string) => void;
}

/** A photo on its way from a device (photo-start … photo-end), then waiting for the question about it. */
interface PhotoUpload {
  expected: number;
  chunks: Uint8Array[];
  received: number;
  photo?: ImageInput;
  /** Drops it when no question about it comes in time. */
  expiry: NodeJS.Timeout;
}

/** A photo sent and not asked about within this time is dropped. */
export const PHOTO_HOLD_MS = 5 * 60_000;
/** Photos held at once, from all devices together (each at most LIMITS.photoBytes); the oldest goes first. */
const MAX_PHOTOS_HELD = 4;
const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

interface Talk {
  session: string;
  request: RemoteRequest;
  chunks: Int16Array[];
  samples: number;
}

export const fail = (code: AckError['code'], message: string, fix?: string): AckError => ({ ok: false, code, message, ...(fix ? { fix } : {}) });

const noPhoto = (): AckError =>
  fail('invalid', 'no photo from this device to ask about', `Take or choose the photo again: a photo is kept for one question, and for ${PHOTO_HOLD_MS / 60_000} minutes at most.`);

export class CommandHandlers {
  readonly #pairing = new PairingGuard();
  /**
   * Controller codes shown by a screen on this computer, until they expire. Such a code is for a person to type
   * on another device: redeemed from this computer it would let any local program make itself a controller.
   */
  readonly #shownHere = new Map<string, number>();
  /** One push-to-talk at a time, whoever holds the button last. */
  #talk: Talk | undefined;
  /** Per client: the photo it is sending, or has sent for its next question. Memory only, one per client. */
  readonly #photos = new Map<string, PhotoUpload>();

  constructor(private readonly deps: CommandDeps) {}

  async handle<C extends CommandName>(session: ClientSession, command: C, payload: CommandPayload<C>): Promise<Ack<CommandResults[C]>> {
    const result = await this.#dispatch(session, command, payload as never);
    return result as Ack<CommandResults[C]>;
  }

  /** The client went away: a recording it was making is dropped. */
  sessionClosed(session: ClientSession): void {
    if (this.#talk?.session === session.id) this.#cancelTalk();
    this.#dropPhoto(session.id);
  }

  async #dispatch(session: ClientSession, command: CommandName, payload: never): Promise<Ack<Record<string, unknown>>> {
    const { assistant } = this.deps;
    switch (command) {
      case 'pair':
        return this.#pair(session, payload as CommandPayload<'pair'>);
      case 'pairing-code':
        return this.#pairingCode(session, (payload as CommandPayload<'pairing-code'>).role);
      case 'ask': {
        const { text, photo } = payload as CommandPayload<'ask'>;
        const image = photo ? this.#takePhoto(session) : undefined;
        if (photo && !image) return noPhoto();
        // The answer arrives as run events; the ack only says the question was taken.
        void assistant.ask(text, image).catch((error: unknown) => this.deps.log.warn({ err: describeError(error) }, 'typed question failed'));
        return { ok: true };
      }
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
        const image = (payload as CommandPayload<'talk-end'>)?.photo ? this.#takePhoto(session) : undefined;
        if ((payload as CommandPayload<'talk-end'>)?.photo && !image) {
          this.#cancelTalk();
          return noPhoto();
        }
        this.#finishTalk(talk, image);
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
      case 'photo-start':
        return this.#photoStart(session, (payload as CommandPayload<'photo-start'>).bytes);
      case 'photo-chunk':
        return this.#photoChunk(session, payload as CommandPayload<'photo-chunk'>);
      case 'photo-end':
        return this.#photoEnd(session);
      case 'photo-drop':
        this.#dropPhoto(session.id);
        return { ok: true };
      case 'open-document': {
        const { document, page } = payload as CommandPayload<'open-document'>;
        if (!this.deps.documents) return fail('unavailable', 'no documents are read here', 'Add a folder of documents with `jarvis docs add`.');
        return this.deps.documents.issue(document, page, session.deviceName);
      }
    }
  }

  #photoStart(session: ClientSession, bytes: number): Ack {
    this.#dropPhoto(session.id);
    if (bytes > LIMITS.photoBytes) {
      return fail('invalid', `the photo is ${megabytes(bytes)}; JARVIS takes photos of up to ${megabytes(LIMITS.photoBytes)}`, 'Take it again, or choose a smaller picture (the phone remote scales photos down before it sends them).');
    }
    while (this.#photos.size >= MAX_PHOTOS_HELD) this.#dropPhoto(this.#photos.keys().next().value!);
    const expiry = setTimeout(() => this.#dropPhoto(session.id), PHOTO_HOLD_MS);
    expiry.unref();
    this.#photos.set(session.id, { expected: bytes, chunks: [], received: 0, expiry });
    return { ok: true };
  }

  #photoChunk(session: ClientSession, bytes: Uint8Array): Ack<CommandResults['photo-chunk']> {
    const upload = this.#photos.get(session.id);
    if (!upload || upload.photo) return fail('invalid', 'no photo is being sent from this device', 'Send photo-start first.');
    if (upload.received + bytes.byteLength > upload.expected) {
      this.#dropPhoto(session.id);
      return fail('invalid', `the photo is larger than the ${megabytes(upload.expected)} it was said to be`, 'Send it again.');
    }
    // Copied: socket.io's Buffers may share a larger one.
    upload.chunks.push(Uint8Array.from(bytes));
    upload.received += bytes.byteLength;
    return { ok: true, received: upload.received };
  }

  #photoEnd(session: ClientSession): Ack<CommandResults['photo-end']> {
    const upload = this.#photos.get(session.id);
    if (!upload || upload.photo) return fail('invalid', 'no photo is being sent from this device', 'Send photo-start first.');
    if (upload.received !== upload.expected) {
      this.#dropPhoto(session.id);
      return fail('invalid', `the photo arrived incomplete (${upload.received} of ${upload.expected} bytes)`, 'Send it again.');
    }
    const data = new Uint8Array(upload.received);
    let at = 0;
    for (const chunk of upload.chunks) {
      data.set(chunk, at);
      at += chunk.byteLength;
    }
    upload.chunks = [];
    // What it is, by its bytes: a file's name or claimed type says nothing (a text file renamed photo.jpg).
    const type = sniffImageType(data);
    if (!type) {
      this.#dropPhoto(session.id);
      return fail('invalid', 'that file is not a photo: JARVIS looks at JPEG, PNG and WebP images', 'Take a photo with the camera, or choose a JPEG, PNG or WebP picture.');
    }
    upload.photo = { type, data };
    return { ok: true, type, bytes: data.byteLength };
  }

  /** The photo this device sent, for its question: it leaves the list (the turn holds it from now on). */
  #takePhoto(session: ClientSession): ImageInput | undefined {
    const photo = this.#photos.get(session.id)?.photo;
    if (!photo) return undefined;
    this.#dropPhoto(session.id);
    if (this.deps.keepPhoto) {
      try {
        this.deps.keepPhoto(photo, session.deviceName);
      } catch (error) {
        this.deps.log.warn({ err: describeError(error).message }, 'could not keep the photo (llm.roles.vision.keepPhotos)');
      }
    }
    return photo;
  }

  #dropPhoto(sessionId: string): void {
    const upload = this.#photos.get(sessionId);
    if (!upload) return;
    clearTimeout(upload.expiry);
    this.#photos.delete(sessionId);
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

  #finishTalk(talk: Talk, image?: ImageInput): void {
    if (this.#talk === talk) this.#talk = undefined;
    void talk.request.finish(concatInt16(...talk.chunks), image).catch((error: unknown) => this.deps.log.warn({ err: describeError(error) }, 'push-to-talk turn failed'));
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
