import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs on stderr (stdout is kept for command output and --json events). Secrets are redacted by key
 * wherever they appear, so a config dump or an error with a request attached cannot leak them.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['accessKey', '*.accessKey', '*.*.accessKey', '*.*.*.accessKey', 'token', '*.token', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
