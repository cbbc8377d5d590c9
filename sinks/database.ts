/**
 * Where documents are written: a MySQL/MariaDB server over TCP, or an embedded SQLite file,
 * and the knex pool for either.
 *
 * @example
 * ```ts
 * import { openDatabase } from 'docpipe/sinks';
 * const knex = openDatabase({ client: 'sqlite', filename: '/tmp/docpipe.db' }, 1);
 * ```
 */
import type { Knex } from 'knex';
import { createKnex } from './createKnex.js';
import { createSqliteKnex } from './sqliteDatabase.js';

export interface DbConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** An embedded SQLite database in one file, for trying docpipe where no MySQL runs. */
export interface SqliteConnection {
  client: 'sqlite';
  /** Path of the database file (created if missing). */
  filename: string;
}

/** Where documents are written: a MySQL/MariaDB server, or an embedded SQLite file. */
export type Database = DbConnection | SqliteConnection;

export const isSqlite = (db: Database): db is SqliteConnection => 'client' in db && db.client === 'sqlite';

/** A knex pool on either kind of database. */
export const openDatabase = (db: Database, poolSize: number): Knex => (isSqlite(db) ? createSqliteKnex(db.filename) : createKnex(db, poolSize));
