/**
 * Sorts database errors into docpipe's three kinds, by MySQL/MariaDB error number or the
 * driver's error code:
 * - `transient`: the infrastructure hiccupped (deadlock, lock wait, lost or refused
 *   connection, server shutting down); retry the whole batch, it is idempotent.
 * - `record`: the server refused the data of some row; split the batch to find it.
 * - `fatal`: retrying cannot help (bad credentials, missing table, a bug); stop.
 *
 * @example
 * ```ts
 * import { classifyMysqlError } from 'docpipe/sinks';
 * classifyMysqlError({ errno: 1213, code: 'ER_LOCK_DEADLOCK' }); // 'transient'
 * ```
 */
export type ErrorKind = 'transient' | 'record' | 'fatal';

const TRANSIENT_ERRNO = new Set([
  1040, // too many connections
  1047, // unknown command: a Galera node not ready (WSREP has not yet prepared node for application use)
  1053, // server shutdown in progress
  1158,
  1159,
  1160,
  1161, // network read/write errors and timeouts
  1205, // lock wait timeout
  1213, // deadlock
  1290, // --read-only: a primary demoted in a failover
  1792, // cannot execute in a read-only transaction
  1836, // running in read-only mode
  1969, // statement timeout (MariaDB max_statement_time)
  3024, // query timeout (MySQL max_execution_time)
  1317, // query interrupted
  1927, // connection killed (MariaDB)
  2002,
  2003,
  2006,
  2013, // cannot connect, server gone away, lost connection
  4031, // disconnected for inactivity (MySQL 8)
]);

const TRANSIENT_CODE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // A database host being rescheduled has no address for a while.
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CONNECTION_KILLED',
]);

const RECORD_ERRNO = new Set([
  1048, // column cannot be null
  1153, // packet larger than max_allowed_packet
  1264, // out of range value
  1265, // data truncated
  1292, // incorrect value
  1300, // invalid character string
  1366, // incorrect string / integer value
  1367, // illegal value
  1406, // data too long
  3140, // invalid JSON text
  4025, // constraint failed (MariaDB CHECK)
  3819, // check constraint violated (MySQL)
]);

interface DriverError {
  errno?: unknown;
  code?: unknown;
  name?: unknown;
}

export const classifyMysqlError = (error: unknown): ErrorKind => {
  const e = (error ?? {}) as DriverError;
  // knex could not get a connection from its pool in time: the server is down or saturated.
  if (e.name === 'KnexTimeoutError') return 'transient';
  if (typeof e.errno === 'number') {
    if (TRANSIENT_ERRNO.has(e.errno)) return 'transient';
    if (RECORD_ERRNO.has(e.errno)) return 'record';
  }
  if (typeof e.code === 'string' && TRANSIENT_CODE.has(e.code)) return 'transient';
  return 'fatal';
};

export const describeDbError = (error: unknown): string => {
  const e = error as { code?: string; errno?: number; sqlMessage?: string; message?: string };
  const text = e.sqlMessage ?? e.message ?? String(error);
  return e.code ? `${e.code}${e.errno ? ` (${e.errno})` : ''}: ${text}` : text;
};
