import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Logs go to stderr (stdout is kept for command output and --json events): readable lines on a terminal, JSON
 * lines otherwise (a service manager's journal, a file). Secrets are redacted by key wherever they appear, so a
 * config dump or an error with a request attached cannot leak them.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: undefined,
    redact: {
      paths: ['accessKey', '*.accessKey', '*.*.accessKey', '*.*.*.accessKey', 'token', '*.token', 'authorization', '*.authorization', 'apiKey', '*.apiKey', '*.*.apiKey', '*.*.*.apiKey', 'password', '*.password', '*.*.password'],
      censor: '[redacted]',
    },
  };
  const isTerminal = (destination as NodeJS.WriteStream).isTTY === true;
  const stream = isTerminal
    ? pretty({ destination: destination as NodeJS.WriteStream, sync: true, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })
    : (destination as pino.DestinationStream);
  return pino(options, stream);
}

export const silentLogger: Logger = pino({ level: 'silent' });
