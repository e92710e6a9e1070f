import type { Clock } from '../../base/clock.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Synthesizer, VoiceActivityDetector, WakeWordDetector } from '../../voice/ports.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import { SatelliteLink } from './satellite-link.ts';

/**
 * The satellites in the config (satellites[]), each linked in the background from now on; none configured:
 * undefined. Disposing closes every link and releases the wake word detectors and VADs made for them.
 */
export function connectSatellites(
  config: JarvisConfig,
  deps: {
    readonly assistant: Assistant;
    readonly synthesizer: Synthesizer | undefined;
    readonly createWakeDetector: () => Promise<WakeWordDetector>;
    readonly createVad: () => Promise<VoiceActivityDetector>;
    readonly clock: Clock;
    readonly log: Logger;
  },
): { readonly links: readonly SatelliteLink[]; dispose(): Promise<void> } | undefined {
  if (config.satellites.length === 0) return undefined;
  const links = config.satellites.map((settings) => new SatelliteLink(settings, { ...deps, config }));
  for (const link of links) link.start();
  return {
    links,
    dispose: async () => {
      await Promise.all(links.map((link) => link.dispose()));
    },
  };
}
