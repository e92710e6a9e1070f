import cliProgress from 'cli-progress';
import type { DownloadProgress } from './download.ts';
import { formatBytes, formatDuration } from '../base/format.ts';

/**
 * Download progress for a person: one cli-progress bar per file with percentage, size, speed and time left on a
 * terminal; on a pipe or a log file, a plain line per file every 10 % (and at each phase change) instead of
 * redraw codes.
 */

const LINE_STEP = 10;

export class DownloadProgressView {
  readonly #stream: NodeJS.WriteStream;
  readonly #bars: cliProgress.MultiBar | undefined;
  readonly #fileBars = new Map<string, cliProgress.SingleBar>();
  readonly #printed = new Map<string, { phase: string; step: number }>();

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#bars = stream.isTTY
      ? new cliProgress.MultiBar(
          {
            stream,
            format: '{file} |{bar}| {percentage}% {done}/{size} {speed} ETA {left} {phase}',
            barsize: 20,
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
            autopadding: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  }

  update(progress: DownloadProgress): void {
    const total = progress.totalBytes ?? 0;
    const payload = {
      file: progress.file.length > 32 ? `${progress.file.slice(0, 31)}…` : progress.file.padEnd(32),
      done: formatBytes(progress.receivedBytes),
      size: total ? formatBytes(total) : '?',
      speed: `${formatBytes(progress.bytesPerSecond)}/s`,
      left: progress.etaSeconds !== undefined ? formatDuration(progress.etaSeconds) : '--',
      phase: progress.phase === 'downloading' ? '' : progress.phase,
    };
    if (this.#bars) {
      let bar = this.#fileBars.get(progress.file);
      if (!bar) {
        bar = this.#bars.create(Math.max(1, total), progress.receivedBytes, payload);
        this.#fileBars.set(progress.file, bar);
      }
      if (total) bar.setTotal(total);
      bar.update(progress.receivedBytes, payload);
      return;
    }
    const percent = total ? Math.floor((progress.receivedBytes / total) * 100) : 0;
    const step = Math.floor(percent / LINE_STEP);
    const last = this.#printed.get(progress.file);
    if (last && last.phase === progress.phase && last.step === step) return;
    this.#printed.set(progress.file, { phase: progress.phase, step });
    this.#stream.write(
      `${progress.file}: ${progress.phase}${total ? ` ${percent}%` : ''} ${payload.done}/${payload.size}, ${payload.speed}, ETA ${payload.left}` +
        `${progress.resumedFromBytes > 0 ? ` (resumed at ${formatBytes(progress.resumedFromBytes)})` : ''}\n`,
    );
  }

  stop(): void {
    this.#bars?.stop();
  }
}
