/** Small helpers on mono int16 PCM. */

/** `a` then `b` in one array: the bytes of a frame or header split across two network chunks. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

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

/** Cuts a stream of arbitrary chunks into fixed-size frames; the remainder waits for the next chunk. */
export class FrameSplitter {
  #pending = new Int16Array(0);

  constructor(readonly frameSamples: number) {}

  /** The whole frames that `samples` completes, in order. */
  push(samples: Int16Array): Int16Array[] {
    const all = concatInt16(this.#pending, samples);
    const frames: Int16Array[] = [];
    let offset = 0;
    for (; offset + this.frameSamples <= all.length; offset += this.frameSamples) frames.push(all.subarray(offset, offset + this.frameSamples));
    this.#pending = all.slice(offset);
    return frames;
  }

  clear(): void {
    this.#pending = new Int16Array(0);
  }
}
