/**
 * SIGTERM and SIGINT from the process's first line: until a command has handlers of its own,
 * a stop request ends the process with 0 — nothing has been read, so nothing is lost. Loading
 * the Kafka client, knex and the rest takes a few hundred milliseconds, during which Node's
 * default would end the process with 143 (and, as PID 1 in a container, ignore the signal).
 *
 * @example
 * ```ts
 * import { holdEarlySignals, releaseEarlySignals } from './earlySignals.js';
 * holdEarlySignals();
 * // … load the command; once it handles the signals itself:
 * releaseEarlySignals();
 * ```
 */

const exitQuietly = (): void => process.exit(0);

export const holdEarlySignals = (): void => {
  process.on('SIGTERM', exitQuietly);
  process.on('SIGINT', exitQuietly);
};

export const releaseEarlySignals = (): void => {
  process.removeListener('SIGTERM', exitQuietly);
  process.removeListener('SIGINT', exitQuietly);
};
