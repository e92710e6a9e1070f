import type { Socket } from 'node:net';

/**
 * Wyoming's framing, as rhasspy/wyoming's event.py reads and writes it: a JSON header line
 * {"type", "data"?, "data_length"?, "payload_length"?, "version"?}\n, then data_length bytes of JSON data (merged
 * over the header's inline "data"), then payload_length bytes of payload (usually PCM audio).
 */

/** The protocol version written in every header: the rhasspy/wyoming release this server follows. */
export const WYOMING_VERSION = '1.7.0';

export type EventData = Record<string, unknown>;

export interface WyomingEvent {
  readonly type: string;
  readonly data: EventData;
  readonly payload?: Uint8Array;
}

export interface FrameLimits {
  readonly maxHeaderBytes: number;
  readonly maxDataBytes: number;
  readonly maxPayloadBytes: number;
}

/** A frame that cannot be read: the connection ends, with this said in an `error` event. */
export class WyomingFrameError extends Error {
  constructor(
    readonly code: 'header-too-long' | 'data-too-long' | 'payload-too-long' | 'malformed-header' | 'malformed-data',
    message: string,
  ) {
    super(message);
    this.name = 'WyomingFrameError';
  }
}

const NEWLINE = 0x0a;

/** The bytes of one event: header line, data, payload (data_length / payload_length only when there are some). */
export function encodeEvent(event: WyomingEvent): Buffer {
  const header: Record<string, unknown> = { type: event.type, version: WYOMING_VERSION };
  const data = Object.keys(event.data).length > 0 ? Buffer.from(JSON.stringify(event.data), 'utf8') : undefined;
  if (data) header.data_length = data.length;
  if (event.payload && event.payload.length > 0) header.payload_length = event.payload.length;
  const parts: Buffer[] = [Buffer.from(`${JSON.stringify(header)}\n`, 'utf8')];
  if (data) parts.push(data);
  if (event.payload && event.payload.length > 0) parts.push(Buffer.from(event.payload.buffer, event.payload.byteOffset, event.payload.byteLength));
  return Buffer.concat(parts);
}

interface PendingBody {
  readonly type: string;
  readonly inline: EventData;
  readonly dataLength: number;
  readonly payloadLength: number;
}

/**
 * Reads events from a byte stream that arrives in pieces of any size (one event split over many TCP packets, or
 * many in one). Sizes are checked against the limits before anything is buffered for them, so a client cannot make
 * the server hold more than one limit's worth.
 */
export class EventDecoder {
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #body: PendingBody | undefined;

  constructor(private readonly limits: FrameLimits) {}

  /** The events `chunk` completes, in order. Throws WyomingFrameError on a frame that cannot be read. */
  push(chunk: Uint8Array): WyomingEvent[] {
    this.#buffered.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#bufferedBytes += chunk.byteLength;
    const events: WyomingEvent[] = [];
    for (;;) {
      if (!this.#body) {
        const line = this.#takeLine();
        if (line === undefined) break;
        this.#body = this.#parseHeader(line);
      }
      const body = this.#body;
      if (this.#bufferedBytes < body.dataLength + body.payloadLength) break;
      const bytes = this.#take(body.dataLength + body.payloadLength);
      this.#body = undefined;
      const data = body.dataLength > 0 ? { ...body.inline, ...parseObject(bytes.subarray(0, body.dataLength), 'malformed-data', 'event data') } : body.inline;
      events.push(body.payloadLength > 0 ? { type: body.type, data, payload: bytes.subarray(body.dataLength) } : { type: body.type, data });
    }
    return events;
  }

  /** Bytes of an event begun but not finished (0 between events). */
  get pendingBytes(): number {
    return this.#bufferedBytes;
  }

  #takeLine(): Buffer | undefined {
    const all = this.#joined();
    const end = all.indexOf(NEWLINE);
    if (end === -1) {
      if (all.length > this.limits.maxHeaderBytes) throw tooLongHeader(this.limits.maxHeaderBytes);
      return undefined;
    }
    if (end > this.limits.maxHeaderBytes) throw tooLongHeader(this.limits.maxHeaderBytes);
    const line = all.subarray(0, end);
    this.#keep(all.subarray(end + 1));
    return line;
  }

  #parseHeader(line: Buffer): PendingBody {
    const header = parseObject(line, 'malformed-header', 'event header');
    const { type } = header;
    if (typeof type !== 'string' || type.length === 0) throw new WyomingFrameError('malformed-header', 'the event header has no "type" string');
    const inline = header.data ?? {};
    if (!isObject(inline)) throw new WyomingFrameError('malformed-header', `the "data" of a ${type} event header is not a JSON object`);
    const dataLength = length(header.data_length, 'data_length', type);
    const payloadLength = length(header.payload_length, 'payload_length', type);
    if (dataLength > this.limits.maxDataBytes) {
      throw new WyomingFrameError('data-too-long', `${type} has ${dataLength} bytes of data; at most ${this.limits.maxDataBytes} are accepted (wyoming.limits.maxDataBytes)`);
    }
    if (payloadLength > this.limits.maxPayloadBytes) {
      throw new WyomingFrameError('payload-too-long', `${type} has a ${payloadLength}-byte payload; at most ${this.limits.maxPayloadBytes} are accepted (wyoming.limits.maxPayloadBytes): send smaller audio chunks`);
    }
    return { type, inline, dataLength, payloadLength };
  }

  #take(bytes: number): Buffer {
    const all = this.#joined();
    this.#keep(all.subarray(bytes));
    return all.subarray(0, bytes);
  }

  #joined(): Buffer {
    if (this.#buffered.length > 1) this.#buffered = [Buffer.concat(this.#buffered, this.#bufferedBytes)];
    return this.#buffered[0] ?? Buffer.alloc(0);
  }

  #keep(rest: Buffer): void {
    this.#buffered = rest.length > 0 ? [rest] : [];
    this.#bufferedBytes = rest.length;
  }
}

function tooLongHeader(max: number): WyomingFrameError {
  return new WyomingFrameError('header-too-long', `an event header line is longer than ${max} bytes (wyoming.limits.maxHeaderBytes): put large data after the header with data_length`);
}

function parseObject(bytes: Uint8Array, code: 'malformed-header' | 'malformed-data', what: string): EventData {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new WyomingFrameError(code, `the ${what} is not JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) throw new WyomingFrameError(code, `the ${what} is not a JSON object`);
  return value;
}

/** As event.py: absent, null and 0 all mean none. */
function length(value: unknown, key: string, type: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new WyomingFrameError('malformed-header', `${key} of a ${type} event is ${JSON.stringify(value)}, not a byte count`);
  }
  return value;
}

function isObject(value: unknown): value is EventData {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Writes one event to `socket`; resolves once the socket took it (or is gone), so a slow peer holds back the sender
 * of streamed audio instead of letting it fill memory.
 */
export function writeEvent(socket: Socket, event: WyomingEvent): Promise<void> {
  if (socket.destroyed || socket.writableEnded) return Promise.resolve();
  if (socket.write(encodeEvent(event))) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
