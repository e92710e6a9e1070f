import { JarvisError } from '../base/errors.ts';

/** A download that failed or was refused; the message names the file and the URL, the fix what to do. */
export type DownloadErrorCode =
  | 'download-offline'
  | 'download-not-found'
  | 'download-unauthorized'
  | 'download-http'
  | 'download-network'
  | 'download-stalled'
  | 'download-hash-mismatch'
  | 'download-size-mismatch'
  | 'download-truncated'
  | 'download-corrupt'
  | 'download-disk-full'
  | 'download-not-writable'
  | 'download-aborted';

const RETRYABLE = new Set<DownloadErrorCode>(['download-network', 'download-stalled', 'download-truncated']);

export class ModelDownloadError extends JarvisError {
  /** A dropped connection or a stall is worth another attempt from where it stopped; a 404 or a bad hash is not. */
  readonly retryable: boolean;

  constructor(
    code: DownloadErrorCode,
    readonly url: string,
    message: string,
    fix: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(code, message, fix, options);
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
  }
}

/** A request the model manager refuses: an unknown id, a model of the wrong kind, removing the active model… */
export class ModelManagerError extends JarvisError {}
