/** Sizes and durations as people read (and hear) them, for the CLI, the log and spoken progress. */

const UNITS = [
  ['GB', 'gigabytes', 1e9],
  ['MB', 'megabytes', 1e6],
  ['kB', 'kilobytes', 1e3],
] as const;

export function formatBytes(bytes: number, style: 'short' | 'spoken' = 'short'): string {
  for (const [short, spoken, size] of UNITS) {
    if (bytes >= size) {
      const value = bytes / size;
      const text = value >= 100 ? value.toFixed(0) : value.toFixed(1);
      return `${text} ${style === 'short' ? short : spoken}`;
    }
  }
  return style === 'short' ? `${bytes} B` : `${bytes} bytes`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
