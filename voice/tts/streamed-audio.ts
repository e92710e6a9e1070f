import type { PcmAudio } from '../ports.ts';
import { concatBytes } from '../pcm.ts';

/**
 * Audio from a speech server as it streams in: a WAV whose header is read as soon as it has arrived (streaming
 * servers write it before they know the length, so its sizes may be 0 or 0xFFFFFFFF and are not trusted beyond
 * what came), or raw 16-bit little-endian PCM at a rate agreed beforehand (OpenAI's "pcm", 24 kHz). Chunks may split
 * a header or a sample anywhere. Anything else is refused with what it is and what to set instead.
 */

export type StreamedFormat = { readonly format: 'wav' } | { readonly format: 'pcm'; readonly sampleRate: number };

/** What the audio could not be: the caller turns it into an error that names the server. */
export class UnplayableAudioError extends Error {}

interface WavFormat {
  readonly sampleRate: number;
  readonly channels: number;
  /** Bytes of PCM the header announces, when it says (not a streaming placeholder). */
  readonly dataBytes: number | undefined;
}

const MAX_HEADER_BYTES = 64 * 1024;

export class StreamedAudioDecoder {
  readonly #format: StreamedFormat;
  readonly #maxBytes: number;
  #header: WavFormat | undefined;
  /** Bytes before the header was read, or the odd bytes of a sample frame split between chunks. */
  #pending: Uint8Array = new Uint8Array(0);
  readonly #samples: Int16Array[] = [];
  #dataBytes = 0;

  constructor(format: StreamedFormat, maxBytes: number) {
    this.#format = format;
    this.#maxBytes = maxBytes;
    if (format.format === 'pcm') this.#header = { sampleRate: format.sampleRate, channels: 1, dataBytes: undefined };
  }

  /** Bytes of audio received so far (for a size limit). */
  get bytes(): number {
    return this.#dataBytes;
  }

  push(chunk: Uint8Array): void {
    let bytes = concatBytes(this.#pending, chunk);
    if (!this.#header) {
      const read = readWavHeader(bytes);
      if (read === 'more') {
        if (bytes.length > MAX_HEADER_BYTES) throw new UnplayableAudioError('no WAV "data" chunk in the first 64 KB');
        this.#pending = bytes;
        return;
      }
      this.#header = read.format;
      bytes = bytes.subarray(read.dataStart);
    }
    const header = this.#header;
    if (header.dataBytes !== undefined) bytes = bytes.subarray(0, Math.max(0, header.dataBytes - this.#dataBytes));
    const frame = 2 * header.channels;
    const whole = bytes.length - (bytes.length % frame);
    this.#pending = bytes.slice(whole);
    this.#dataBytes += whole;
    if (this.#dataBytes > this.#maxBytes) throw new UnplayableAudioError(`more than ${Math.round(this.#maxBytes / 1e6)} MB of audio for one sentence`);
    if (whole > 0) this.#samples.push(toMono(bytes.subarray(0, whole), header.channels));
  }

  /** The whole sentence's audio; throws when no audio (or not even a header) came. */
  finish(): PcmAudio {
    if (!this.#header) throw new UnplayableAudioError(this.#pending.length ? 'the WAV audio ended inside its header' : 'no audio');
    const length = this.#samples.reduce((n, s) => n + s.length, 0);
    const samples = new Int16Array(length);
    let at = 0;
    for (const part of this.#samples) {
      samples.set(part, at);
      at += part.length;
    }
    return { samples, sampleRate: this.#header.sampleRate };
  }
}

/** Little-endian 16-bit frames to mono samples (channels averaged). */
function toMono(bytes: Uint8Array, channels: number): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(bytes.length / (2 * channels));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += view.getInt16((i * channels + c) * 2, true);
    out[i] = Math.round(sum / channels);
  }
  return out;
}

/** The format and where the samples start, or 'more' when the header has not all arrived yet. */
function readWavHeader(bytes: Uint8Array): { format: WavFormat; dataStart: number } | 'more' {
  if (bytes.length < 12) return 'more';
  const text = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (text(0) !== 'RIFF' || text(8) !== 'WAVE') {
    throw new UnplayableAudioError(`not WAV audio (it begins with ${JSON.stringify(text(0))})`);
  }
  let at = 12;
  let fmt: { audioFormat: number; channels: number; sampleRate: number; bits: number } | undefined;
  for (;;) {
    if (bytes.length < at + 8) return 'more';
    const id = text(at);
    const size = view.getUint32(at + 4, true);
    if (id === 'data') {
      if (!fmt) throw new UnplayableAudioError('a WAV "data" chunk before its "fmt " chunk');
      // Streaming writers put 0 or 0xFFFFFFFF here: the audio then runs to the end of the response.
      const known = size !== 0 && size !== 0xffffffff && size !== 0x7fffffff;
      return { format: { sampleRate: fmt.sampleRate, channels: fmt.channels, dataBytes: known ? size : undefined }, dataStart: at + 8 };
    }
    if (bytes.length < at + 8 + size) return 'more';
    if (id === 'fmt ') {
      fmt = { audioFormat: view.getUint16(at + 8, true), channels: view.getUint16(at + 10, true), sampleRate: view.getUint32(at + 12, true), bits: view.getUint16(at + 22, true) };
      // 0xFFFE (extensible) carries integer PCM too; its sub-format is not checked.
      const pcm = fmt.audioFormat === 1 || fmt.audioFormat === 0xfffe;
      if (!pcm || fmt.bits !== 16) throw new UnplayableAudioError(`WAV audio of format ${fmt.audioFormat} with ${fmt.bits}-bit samples (16-bit PCM is played)`);
      if (fmt.channels < 1 || fmt.sampleRate < 4000 || fmt.sampleRate > 192_000) {
        throw new UnplayableAudioError(`WAV audio with ${fmt.channels} channel(s) at ${fmt.sampleRate} Hz`);
      }
    }
    at += 8 + size + (size % 2); // chunks are padded to an even length
  }
}
