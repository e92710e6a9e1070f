import type { Readable } from 'node:stream';
import { AudioDeviceError } from '../../base/errors.ts';
import { CAPTURE_SAMPLE_RATE, type AudioSource } from '../ports.ts';
import { readPcmStream } from './pcm-stream.ts';

/**
 * Raw s16le mono 16 kHz PCM from a stream, process.stdin by default: lets other programs feed the assistant,
 * e.g. `parec --raw --rate=16000 --channels=1 | jarvis --input -` or `sox in.mp3 -t raw -r 16000 -c 1 -b 16 - | ...`.
 * The stream ends the source; it is not paced, since the writer sets the pace.
 */
export class StdinSource implements AudioSource {
  readonly description: string;

  constructor(
    private readonly input: Readable = process.stdin,
    name = 'stdin',
  ) {
    this.description = `raw s16le ${CAPTURE_SAMPLE_RATE / 1000} kHz mono from ${name}`;
  }

  async *chunks(signal: AbortSignal): AsyncGenerator<Int16Array> {
    try {
      yield* readPcmStream(this.input, signal);
    } catch (error) {
      throw new AudioDeviceError(
        `reading ${this.description} failed: ${(error as Error).message}`,
        'Check the program writing to JARVIS: it must send raw signed 16-bit little-endian mono PCM at 16 kHz.',
        { cause: error },
      );
    }
  }
}
