import '../onnx-telemetry-off.ts';
import { shippedModels } from '../shipped.ts';
import ort from 'onnxruntime-node';
import { openOnnxSession, requireIo } from '../onnx.ts';
import { FrameSplitter } from '../pcm.ts';
import type { VoiceActivityDetector } from '../ports.ts';

/**
 * Silero VAD v5 on onnxruntime-node. As in Silero's own OnnxWrapper, each 512-sample (32 ms) frame is run with
 * the last 64 samples of the previous frame prepended, and the recurrent state is carried from frame to frame.
 */

const FRAME_SAMPLES = 512;
const CONTEXT_SAMPLES = 64;
const STATE_SIZE = 2 * 1 * 128;

export class SileroVad implements VoiceActivityDetector {
  readonly engine = 'silero-vad-v5';
  readonly frameSamples = FRAME_SAMPLES;
  #state = new Float32Array(STATE_SIZE);
  #context = new Float32Array(CONTEXT_SAMPLES);
  readonly #frames = new FrameSplitter(FRAME_SAMPLES);
  readonly #sampleRate = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
  #disposed = false;

  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(modelPath?: string): Promise<SileroVad> {
    const file = modelPath ?? shippedModels.sileroVadV5;
    const session = await openOnnxSession(
      file,
      'Silero VAD',
      modelPath ? 'Check vad.model.' : 'Reinstall the npm dependencies (`npm install`), which ship Silero VAD v5.',
    );
    requireIo(session, file, ['input', 'state', 'sr'], ['output', 'stateN']);
    return new SileroVad(session);
  }

  async process(samples: Int16Array): Promise<number[]> {
    if (this.#disposed) throw new Error('VAD used after dispose()');
    const probabilities: number[] = [];
    for (const frame of this.#frames.push(samples)) probabilities.push(await this.#runFrame(frame));
    return probabilities;
  }

  reset(): void {
    this.#state = new Float32Array(STATE_SIZE);
    this.#context = new Float32Array(CONTEXT_SAMPLES);
    this.#frames.clear();
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.session.release();
  }

  async #runFrame(frame: Int16Array): Promise<number> {
    const input = new Float32Array(CONTEXT_SAMPLES + FRAME_SAMPLES);
    input.set(this.#context);
    for (let i = 0; i < FRAME_SAMPLES; i++) input[CONTEXT_SAMPLES + i] = frame[i]! / 32768;
    this.#context = input.slice(input.length - CONTEXT_SAMPLES);
    const output = await this.session.run({
      input: new ort.Tensor('float32', input, [1, input.length]),
      state: new ort.Tensor('float32', this.#state, [2, 1, 128]),
      sr: this.#sampleRate,
    });
    this.#state = Float32Array.from(output.stateN!.data as Float32Array);
    return (output.output!.data as Float32Array)[0]!;
  }
}

