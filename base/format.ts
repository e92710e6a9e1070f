/** Sizes and durations as people read (and hear) them, for the CLI, the log and spoken progress. */

type ByteUnit = 'GB' | 'MB' | 'kB' | 'B';

const UNITS: readonly (readonly [short: ByteUnit, spoken: string, power: number])[] = [
  ['GB', 'gigabytes', 3],
  ['MB', 'megabytes', 2],
  ['kB', 'kilobytes', 1],
  ['B', 'bytes', 0],
];

export interface ByteFormat {
  /** 'short' ("4.9 GB") for the CLI and the log; 'spoken' ("4.9 gigabytes", never "4.0") for the voice. */
  readonly style?: 'short' | 'spoken';
  /**
   * Units of 1024 instead of 1000, for memory as GPUs and llama.cpp count it: an "11 GB" card has 11 GiB. The units
   * keep their plain names. Download and file sizes stay decimal, as the model pages give them.
   */
  readonly binary?: boolean;
  /** The smallest unit written; a smaller count is a fraction of it ("0 MB VRAM" rather than "0 B VRAM"). */
  readonly smallest?: ByteUnit;
}

/** "4.9 GB", "123 kB", "5.3 gigabytes": in the largest unit the count reaches, one decimal below 100 of it. */
export function formatBytes(bytes: number, format: ByteFormat = {}): string {
  const { style = 'short', binary = false, smallest = 'B' } = format;
  const base = binary ? 1024 : 1000;
  const [short, spoken, power] = UNITS.find(([unit, , power]) => bytes >= base ** power || unit === smallest)!;
  const value = bytes / base ** power;
  let text = power === 0 || bytes === 0 ? String(bytes) : value >= 100 ? value.toFixed(0) : value.toFixed(1);
  if (style === 'spoken') text = text.replace(/\.0$/, '');
  return `${text} ${style === 'short' ? short : spoken}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
