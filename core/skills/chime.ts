import type { PcmAudio } from '../../voice/ports.ts';
import { floatToInt16 } from '../../voice/wav.ts';

/**
 * The two-note chime played before a ringing timer's announcement: made here rather than shipped as a file,
 * and distinct enough from speech that a room notices it.
 */
export function chime(sampleRate = 22_050): PcmAudio {
  const notes = [
    { hz: 1318.5, ms: 260 },
    { hz: 1046.5, ms: 420 },
  ];
  const parts: number[] = [];
  for (const note of notes) {
    const n = Math.round((note.ms / 1000) * sampleRate);
    for (let i = 0; i < n; i++) {
      const t = i / sampleRate;
      // A struck-bell envelope: 5 ms attack, then an exponential decay; a quiet octave above for brightness.
      const envelope = Math.min(1, t / 0.005) * Math.exp(-t * 6);
      const tone = Math.sin(2 * Math.PI * note.hz * t) + 0.3 * Math.sin(4 * Math.PI * note.hz * t);
      parts.push(0.45 * envelope * tone);
    }
  }
  return { samples: floatToInt16(parts), sampleRate };
}
