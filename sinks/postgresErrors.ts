/**
 * Sorts PostgreSQL errors into docpipe's three kinds, by SQLSTATE (`code`, five characters)
 * or, for errors that never reached the server, by Node's socket error code:
 * - `transient`: the connection, the server or a concurrent transaction got in the way
 *   (lost or refused connection, deadlock, serialization failure, server shutting down or
 *   out of resources, a replica promoted under us); retry the whole batch, it is idempotent.
 * - `record`: the server refused the data of some row (classes 22 and 23); split the batch
 *   to find it.
 * - `fatal`: retrying cannot help (bad credentials, missing database, table or column, a
 *   syntax error, that is a bug); stop.
 *
 * @example
 * ```ts
 * import { classifyPostgresError, describePostgresError } from './postgresErrors.js';
 * classifyPostgresError({ code: '40P01' }); // 'transient'
 * classifyPostgresError({ code: '23502', message: 'null value in column "id"' }); // 'record'
 * describePostgresError({ code: '22001', message: 'value too long for type character varying(2)', column: 'v' });
 * // '22001 value too long for type character varying(2) (column v)'
 * ```
 */
import type { ErrorKind } from './mysqlErrors.js';

const TRANSIENT_SQLSTATE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout, NOWAIT)
  '57014', // query_canceled: statement_timeout, or pg_cancel_backend
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57P05', // idle_session_timeout: the pool handed out a connection the server had closed
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  // read_only_sql_transaction: after a failover the old address may lead to a standby for a
  // while; once DNS or the proxy follows the new primary, the same batch goes through.
  '25006',
]);

// Whole classes: every condition in them is transient, or is about the data of a row.
const TRANSIENT_CLASSES = new Set([
  '08', // connection_exception
]);
const RECORD_CLASSES = new Set([
  '22', // data_exception: too long, out of range, bad text, bad characters, bad dates
  '23', // integrity_constraint_violation: not null, unique, check, foreign key, exclusion
]);

const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

// pg reports a socket that closed under it (a connect that timed out included), and pg-pool a
// connect that timed out, as a plain Error without a code: the message is all there is to go
// by. knex puts the SQL in front of a failed query's message, so they are matched at the end.
const TRANSIENT_MESSAGES = [/Connection terminated unexpectedly$/, /Connection terminated due to connection timeout$/];

interface PgError {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  detail?: unknown;
  column?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

export const classifyPostgresError = (err: unknown): ErrorKind => {
  const e = (err ?? {}) as PgError;
  // knex could not get a connection from its pool in time: the server is down or saturated.
  if (e.name === 'KnexTimeoutError') return 'transient';
  if (typeof e.code === 'string') {
    // First: EPIPE has five capitals and would pass for a SQLSTATE.
    if (TRANSIENT_NODE_CODES.has(e.code)) return 'transient';
    if (SQLSTATE.test(e.code)) {
      if (TRANSIENT_SQLSTATE.has(e.code) || TRANSIENT_CLASSES.has(e.code.slice(0, 2))) return 'transient';
      if (RECORD_CLASSES.has(e.code.slice(0, 2))) return 'record';
      return 'fatal';
    }
  }
  if (e.code === undefined && typeof e.message === 'string') {
    const message = e.message;
    if (TRANSIENT_MESSAGES.some((m) => m.test(message))) return 'transient';
  }
  return 'fatal';
};

/** `<code> <message>`, then the server's detail and the column it names, when it gives them. */
export const describePostgresError = (err: unknown): string => {
  const e = (err ?? {}) as PgError;
  const message = typeof e.message === 'string' ? e.message : String(err);
  let text = typeof e.code === 'string' ? `${e.code} ${message}` : message;
  if (typeof e.detail === 'string' && e.detail !== '') text += `: ${e.detail}`;
  if (typeof e.column === 'string' && e.column !== '') text += ` (column ${e.column})`;
  return text;
};
