/**
 * The dialect of a knex instance, from its client: `mysql2` (asking the server whether it
 * takes the row alias form), `pg`, or `better-sqlite3`.
 *
 * @example
 * ```ts
 * import { dialectFor } from 'docpipe/sinks';
 * (await dialectFor(knex)).name; // 'postgresql'
 * ```
 */
import type { Knex } from 'knex';
import type { SqlDialect } from './sqlDialect.js';
import { MysqlDialect } from './mysqlDialect.js';
import { PostgresDialect } from './postgresDialect.js';
import { SqliteDialect } from './sqliteDialect.js';
import { FatalSinkError } from '../pipeline/core/recordSink.js';
import { knexClient } from './knexClient.js';

export const dialectFor = async (knex: Knex): Promise<SqlDialect> => {
  const client = knexClient(knex).config.client;
  const name = typeof client === 'string' ? client : '';
  if (name === 'mysql2' || name === 'mysql') return MysqlDialect.detect(knex);
  if (name === 'pg' || name === 'postgres' || name === 'postgresql') return new PostgresDialect();
  if (name === 'better-sqlite3') return new SqliteDialect();
  throw new FatalSinkError(`knex client ${JSON.stringify(name)} is not one docpipe writes: use mysql2, pg or better-sqlite3`);
};
