/**
 * docpipe's pino loggers: JSON lines, one child logger per component, secrets redacted.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.child({ component: 'sink' }).info({ rows: 2000 }, 'batch written');
 * ```
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths whose values never reach a log line. */
export const redactPaths = [
  'password',
  '*.password',
  '*.*.password',
  '["sasl.password"]',
  '*["sasl.password"]',
  '*.*["sasl.password"]',
  '["ssl.key.password"]',
  '*["ssl.key.password"]',
  '*.*["ssl.key.password"]',
];

/**
 * JSON lines, except on a terminal (unless DOCPIPE_LOG_FORMAT=json), where pino-pretty makes
 * them readable. Redaction applies before either.
 */
export const createLogger = (options: LoggerOptions = {}): Logger => {
  const pretty = process.stdout.isTTY && process.env['DOCPIPE_LOG_FORMAT'] !== 'json';
  return pino({
    name: 'docpipe',
    level: process.env['DOCPIPE_LOG_LEVEL'] ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(pretty && { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' } } }),
    ...options,
  });
};

/**
 * Writes out what the logger still buffers, before a process ends without its normal exit
 * (pino's stdout stream writes asynchronously).
 */
export const flushLogsSync = (logger: Logger): void => {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // Nothing written yet, or a stream that cannot flush synchronously: nothing to lose.
  }
};
