/**
 * A knex pool on a MySQL or MariaDB server, set up the way docpipe's MySQL sink needs it.
 *
 * @example
 * ```ts
 * import { createKnex, INPUT_DATA, SqlSink } from 'docpipe/sinks';
 * const knex = createKnex({ host: '127.0.0.1', port: 3306, user: 'docpipe', password: 'docpipe', database: 'docpipe' }, 4);
 * const sink = await SqlSink.open(knex, { mapping: INPUT_DATA });
 * ```
 */
import knexFactory, { type Knex } from 'knex';
import type { DbConnection } from './database.js';

/** A knex pool for docpipe: utf8mb4, exact 64-bit integers, strict SQL mode. */
export const createKnex = (db: DbConnection, poolSize: number): Knex =>
  knexFactory({
    client: 'mysql2',
    connection: {
      ...db,
      ssl: db.ssl === true ? { rejectUnauthorized: true } : db.ssl || undefined,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: 5_000,
      // The sink prepares one statement per batch size it meets; the driver closes the least
      // recently used beyond this, so odd sizes do not pile up on the server.
      maxPreparedStatements: 32,
    },
    pool: {
      min: 0,
      max: poolSize,
      // Strict mode turns bad data into errors (dead letters) instead of silently truncated rows.
      afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) =>
        conn.query("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')", (err) => done(err, conn)),
    },
    acquireConnectionTimeout: 10_000,
  });
