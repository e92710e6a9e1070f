/** Numbers as the screens print them. */

export const dash = '—';

export function ms(value: number | undefined): string {
  if (value === undefined) return dash;
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export function gib(mib: number | undefined, digits = 1): string {
  return mib === undefined ? dash : `${(mib / 1024).toFixed(digits)}`;
}

export function num(value: number | undefined, unit = '', digits = 0): string {
  return value === undefined ? dash : `${value.toFixed(digits)}${unit}`;
}

export function clock(date: Date): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * Time left on a timer, rounded up to the second: "4:59" under an hour, "1:05 h" (hours and minutes) beyond,
 * "0:00" once it is due.
 */
export function countdown(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 3600) return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  const minutes = Math.ceil(seconds / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')} h`;
}

/** A timer's length as a name: "45 s", "5 min", "1 h 30 min". */
export function lengthName(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** The day an alarm rings, when it is not today: "tomorrow", "Tue". */
export function alarmDay(at: number, now: number): string {
  const days = Math.round((new Date(at).setHours(0, 0, 0, 0) - new Date(now).setHours(0, 0, 0, 0)) / 86_400_000);
  return days === 0 ? '' : days === 1 ? 'tomorrow' : new Date(at).toLocaleDateString([], { weekday: 'short' });
}

/** "482 913": a pairing code in two groups, easier to read across a room and to type. */
export function groupedCode(code: string): string {
  return code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
}

/**
 * The first 8 bytes of a certificate's SHA-256 fingerprint ("AB:12:…", 95 characters), as browsers show it in
 * their certificate details: 64 bits are as hard to forge as a person will check, and 8 pairs are easy to compare.
 */
export function shortFingerprint(fingerprint: string): string {
  return fingerprint.split(':').slice(0, 8).join(' ');
}

export function since(at: number | undefined, now: number): string {
  if (at === undefined) return '';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min`;
}

/** dBFS → 0..1 for drawing: -60 dB and below is silence, -12 dB is full. */
export function levelOf(dbfs: number): number {
  return Math.min(1, Math.max(0, (dbfs + 60) / 48));
}
