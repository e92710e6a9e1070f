import { BuiltinKeyword, getBuiltinKeywordPath, Porcupine } from '@picovoice/porcupine-node';
import path from 'node:path';
import { JarvisError } from '../../base/errors.ts';
import { FrameSplitter } from '../pcm.ts';
import type { WakeDetection, WakeWordDetector } from '../ports.ts';

/**
 * Picovoice Porcupine, an optional wake-word engine (its "jarvis" keyword ships with the package). It needs a
 * Picovoice AccessKey, which the library checks itself; JARVIS never logs or echoes the key.
 */

export interface PorcupineOptions {
  accessKey: string | undefined;
  /** Porcupine's sensitivity in [0, 1]: higher wakes more easily. */
  sensitivity: number;
  keywordPath?: string;
}

const KEY_FIX =
  'Get a free AccessKey at https://console.picovoice.ai/ and set wake.porcupine.accessKey (or JARVIS_WAKE__PORCUPINE__ACCESS_KEY), ' +
  'or use the default engine: wake.engine = "openwakeword".';

export class PorcupineDetector implements WakeWordDetector {
  readonly engine = 'porcupine';
  readonly #frames: FrameSplitter;
  #peak = 0;
  #released = false;

  private constructor(
    private readonly porcupine: Porcupine,
    readonly keyword: string,
  ) {
    this.#frames = new FrameSplitter(porcupine.frameLength);
  }

  static async create(options: PorcupineOptions): Promise<PorcupineDetector> {
    if (!options.accessKey) {
      throw new JarvisError('wake-porcupine', 'the Porcupine wake-word engine needs a Picovoice AccessKey, and none is configured', KEY_FIX);
    }
    const keywordPath = options.keywordPath ?? getBuiltinKeywordPath(BuiltinKeyword.JARVIS);
    try {
      const porcupine = new Porcupine(options.accessKey, [keywordPath], [options.sensitivity]);
      return new PorcupineDetector(porcupine, path.basename(keywordPath).replace(/_[a-z]+\.ppn$|\.ppn$/, ''));
    } catch (error) {
      const detail = String((error as Error).message ?? error).split(options.accessKey).join('[redacted]');
      throw new JarvisError('wake-porcupine', `Porcupine refused to start: ${detail.split('\n')[0]}`, KEY_FIX, { cause: error });
    }
  }

  async process(samples: Int16Array): Promise<WakeDetection[]> {
    const detections: WakeDetection[] = [];
    for (const frame of this.#frames.push(samples)) {
      if (this.porcupine.process(frame.slice()) >= 0) {
        this.#peak = 1;
        detections.push({ keyword: this.keyword, score: 1 });
      }
    }
    return detections;
  }

  takePeakScore(): number {
    const peak = this.#peak;
    this.#peak = 0;
    return peak;
  }

  reset(): void {
    this.#frames.clear();
  }

  async dispose(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.porcupine.release();
  }
}
