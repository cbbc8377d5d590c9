/**
 * Where documents are written: a MySQL/MariaDB or PostgreSQL server over TCP, or an embedded
 * SQLite file, and the knex pool for each.
 *
 * @example
 * ```ts
 * import { openDatabase } from 'docpipe/sinks';
 * const knex = openDatabase({ client: 'sqlite', filename: '/tmp/docpipe.db' }, 1);
 * ```
 */
import type { Knex } from 'knex';
import { createKnex } from './createKnex.js';
import { createPostgresKnex, type PostgresConnection } from './createPostgresKnex.js';
import { createSqliteKnex } from './sqliteDatabase.js';

/** A MySQL/MariaDB server (`client` may be left out: it is the default). */
export interface DbConnection {
  client?: 'mysql';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** TLS to the server: `true` verifies its certificate against Node's CA list; `ca` is a PEM to trust instead. */
  ssl?: boolean | { rejectUnauthorized?: boolean; ca?: string };
}

/** An embedded SQLite database in one file, for trying docpipe where no server runs. */
export interface SqliteConnection {
  client: 'sqlite';
  /** Path of the database file (created if missing). */
  filename: string;
}

export type { PostgresConnection };

/** Where documents are written. */
export type Database = DbConnection | PostgresConnection | SqliteConnection;

export const isSqlite = (db: Database): db is SqliteConnection => db.client === 'sqlite';
export const isPostgres = (db: Database): db is PostgresConnection => db.client === 'postgresql';

/** A knex pool on any of them. */
export const openDatabase = (db: Database, poolSize: number): Knex => {
  if (isSqlite(db)) return createSqliteKnex(db.filename);
  if (isPostgres(db)) return createPostgresKnex(db, poolSize);
  const { client: _client, ...mysql } = db;
  return createKnex(mysql, poolSize);
};
