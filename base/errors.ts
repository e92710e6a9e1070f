/**
 * Errors that reach a user carry what went wrong and what to do about it, so the CLI, the log and the HUD can
 * show both. `code` is stable for tests and the wire protocol; `fix` is one actionable sentence.
 */
export class JarvisError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A model file is absent, truncated, or not in the format its engine reads. */
export class ModelFileError extends JarvisError {
  constructor(
    code: 'model-missing' | 'model-corrupt' | 'model-wrong-format' | 'model-load-failed',
    readonly path: string,
    message: string,
    fix: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, fix, options);
  }
}

/** The microphone or speaker cannot be opened or went away. */
export class AudioDeviceError extends JarvisError {
  constructor(message: string, fix: string, options?: { cause?: unknown }) {
    super('audio-device', message, fix, options);
  }
}

/** Audio input that cannot be used (a WAV file in a format we refuse, say). */
export class AudioFormatError extends JarvisError {
  constructor(message: string, fix: string) {
    super('audio-format', message, fix);
  }
}

/** Raised by a sink's pending `play()` when `stop()` cut the audio off. */
export class PlaybackStoppedError extends Error {
  constructor() {
    super('playback stopped');
    this.name = 'PlaybackStoppedError';
  }
}

/** A setting that fails validation; `key` is the dotted path, `allowed` says what would be accepted. */
export class ConfigError extends JarvisError {
  constructor(readonly problems: readonly { key: string; value: unknown; allowed: string }[], source: string) {
    super(
      'config-invalid',
      `invalid configuration (${source}):\n` +
        problems.map((p) => `  ${p.key} = ${JSON.stringify(p.value)}: ${p.allowed}`).join('\n'),
      'Correct the value(s) named above in your config file or JARVIS_* environment variables.',
    );
  }
}

/** Generation stopped because the LLM worker process died (GPU fault, out of memory, crash). */
export class LlmWorkerCrashedError extends JarvisError {
  constructor(
    /** How it died and llama.cpp's last error line. */
    readonly detail: string,
    fix = 'It restarts by itself; if this repeats, lower llm.gpuLayers or llm.contextSize, or pick a smaller model.',
  ) {
    super('llm-crashed', `the language model worker stopped unexpectedly (${detail})`, fix);
  }
}

/**
 * The error an operation cut short by `signal` rejects with: the signal's reason where that already is an
 * AbortError (what `controller.abort()` gives), otherwise an Error named 'AbortError' that carries the reason.
 */
export function abortError(signal?: AbortSignal, message = 'operation aborted'): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const error = new Error(message, { cause: reason });
  error.name = 'AbortError';
  return error;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error instanceof PlaybackStoppedError);
}

export function describeError(error: unknown): { code: string; message: string; fix?: string } {
  if (error instanceof JarvisError) return { code: error.code, message: error.message, fix: error.fix };
  if (error instanceof Error) return { code: 'internal', message: error.message };
  return { code: 'internal', message: String(error) };
}
