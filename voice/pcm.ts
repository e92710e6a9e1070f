/** Small helpers on mono int16 PCM. */

export function concatInt16(...parts: Int16Array[]): Int16Array {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length === 1) return nonEmpty[0]!;
  const out = new Int16Array(nonEmpty.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of nonEmpty) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function samplesToMs(samples: number, sampleRate: number): number {
  return (samples / sampleRate) * 1000;
}

export function msToSamples(ms: number, sampleRate: number): number {
  return Math.round((ms / 1000) * sampleRate);
}

/** Root-mean-square level in dBFS (-inf for digital silence is reported as -120). */
export function levelDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -120;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const rms = Math.sqrt(sum / samples.length);
  return rms === 0 ? -120 : 20 * Math.log10(rms / 32768);
}
