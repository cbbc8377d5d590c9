/**
 * A knex pool on an embedded SQLite file (better-sqlite3), set up the way docpipe's sink needs
 * it: every integer read back as a bigint (doc_ids use all 64 bits; a JavaScript number keeps
 * only 53), write-ahead logging with a full sync per transaction (a batch acknowledged as
 * written survives a crash of the process or the machine), and a busy timeout so a second
 * process reading the file (`docpipe verify`) waits instead of failing.
 *
 * better-sqlite3 is an optional peer dependency: a native module that deployments writing to
 * MySQL or PostgreSQL (the container image among them) do not need. Install it beside docpipe
 * to use SQLite; knex loads it only when such a pool is made.
 *
 * @example
 * ```ts
 * import { createSqliteKnex } from 'docpipe/sinks';
 * const knex = createSqliteKnex('/tmp/docpipe.db');
 * const rows = await knex('input_data').select('doc_id'); // doc_id: bigint
 * ```
 */
import { createRequire } from 'node:module';
import knexFactory, { type Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import { FatalSinkError } from '../pipeline/core/recordSink.js';
import { knexClient } from './knexClient.js';

/** Fails with what to do when the driver is not installed (knex's own message is a stack of `require`). */
const requireDriver = (): void => {
  try {
    createRequire(import.meta.url).resolve('better-sqlite3');
  } catch {
    throw new FatalSinkError(
      'an SQLite database needs the better-sqlite3 package, which is not installed (a native module docpipe leaves out unless SQLite is used): run npm install better-sqlite3 where docpipe is installed, or write to MySQL or PostgreSQL',
    );
  }
};

export const createSqliteKnex = (filename: string): Knex => {
  requireDriver();
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      // One writer at a time is all SQLite allows; more connections would only queue on its lock.
      min: 1,
      max: 1,
      afterCreate: (conn: BetterSqlite3.Database, done: (err: Error | null, c: unknown) => void) => {
        try {
          conn.defaultSafeIntegers(true);
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = FULL');
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
};

export const isSqliteKnex = (knex: Knex): boolean => knexClient(knex).config.client === 'better-sqlite3';
