import type { Readable } from 'node:stream';

/**
 * Turns a byte stream of raw s16le PCM (a recorder's stdout, stdin) into Int16Array chunks. Pipes split data at
 * arbitrary byte offsets, so a sample may straddle two reads: the odd byte is carried into the next chunk.
 */

export class StalledStreamError extends Error {
  constructor(readonly idleMs: number) {
    super(`no data for ${idleMs} ms`);
    this.name = 'StalledStreamError';
  }
}

export interface PcmStreamOptions {
  /**
   * Fail with StalledStreamError when no bytes arrive for this long while the consumer is keeping up. A live
   * recorder delivers silence continuously, so a quiet pipe means it is stuck.
   */
  stallMs?: number;
  /** Bytes buffered for a slow consumer before the source is paused (the pipe then holds the rest). */
  highWaterBytes?: number;
}

/** Joins byte chunks into whole little-endian int16 samples. */
export class Int16Assembler {
  #carry: number | undefined;

  push(bytes: Uint8Array): Int16Array {
    let input = bytes;
    if (this.#carry !== undefined && bytes.length > 0) {
      input = new Uint8Array(bytes.length + 1);
      input[0] = this.#carry;
      input.set(bytes, 1);
      this.#carry = undefined;
    }
    const out = new Int16Array(input.length >> 1);
    // Copying into a fresh buffer keeps samples 2-byte aligned whatever offset the input sits at.
    new Uint8Array(out.buffer).set(input.subarray(0, out.length * 2));
    if (input.length % 2 === 1) this.#carry = input[input.length - 1];
    return out;
  }

  /** True when half a sample is waiting for its second byte. */
  get pending(): boolean {
    return this.#carry !== undefined;
  }
}

/**
 * Yields int16 chunks until the stream ends or `signal` aborts (both end the iteration quietly). Stream errors
 * and stalls are thrown. The stream is paused, not destroyed, when iteration stops, so stdin stays usable.
 */
export async function* readPcmStream(
  readable: Readable,
  signal: AbortSignal,
  options: PcmStreamOptions = {},
): AsyncGenerator<Int16Array> {
  const highWater = options.highWaterBytes ?? 1 << 20;
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };

  const stallMs = options.stallMs;
  const stallTimer =
    stallMs === undefined
      ? undefined
      : setTimeout(() => {
          failure ??= new StalledStreamError(stallMs);
          notify();
        }, stallMs);

  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    queue.push(bytes);
    queuedBytes += bytes.length;
    stallTimer?.refresh();
    if (queuedBytes > highWater) {
      readable.pause();
      // Silence from a paused source is our doing, not a stuck device.
      if (stallTimer) clearTimeout(stallTimer);
    }
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (error: unknown) => {
    failure ??= error;
    notify();
  };

  readable.on('data', onData);
  readable.on('end', onEnd);
  readable.on('close', onEnd);
  readable.on('error', onError);
  signal.addEventListener('abort', notify);
  readable.resume();

  const assembler = new Int16Assembler();
  try {
    for (;;) {
      if (signal.aborted) return;
      const bytes = queue.shift();
      if (bytes) {
        queuedBytes -= bytes.length;
        if (readable.isPaused() && queuedBytes <= highWater / 2 && !ended) {
          readable.resume();
          stallTimer?.refresh();
        }
        const samples = assembler.push(bytes);
        if (samples.length > 0) yield samples;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (stallTimer) clearTimeout(stallTimer);
    signal.removeEventListener('abort', notify);
    readable.off('data', onData);
    readable.off('end', onEnd);
    readable.off('close', onEnd);
    readable.off('error', onError);
    if (!readable.destroyed) readable.pause();
  }
}
