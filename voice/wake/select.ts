import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { WakeWordDetector } from '../ports.ts';
import { OpenWakeWordDetector } from './openwakeword.ts';
import { PorcupineDetector } from './porcupine.ts';

/**
 * The wake word engine the config names (the daemon and `jarvis doctor` build it the same way).
 * `forEcho`: the detector that scores our own playback. It is more sensitive than the microphone's, so that a
 * half-heard wake word in the answer is still recognised as ours.
 */
export async function createWakeDetector(config: JarvisConfig, log: Logger, forEcho = false): Promise<WakeWordDetector> {
  if (config.wake.engine === 'porcupine') {
    return PorcupineDetector.create({
      accessKey: config.wake.porcupine.accessKey,
      sensitivity: config.wake.threshold,
      ...(config.wake.porcupine.keywordPath ? { keywordPath: config.wake.porcupine.keywordPath } : {}),
    });
  }
  log.debug('loading openWakeWord');
  const threshold = forEcho ? config.wake.threshold * 0.6 : config.wake.threshold;
  return OpenWakeWordDetector.create({ threshold, ...(config.wake.model ? { modelPath: config.wake.model } : {}) });
}
