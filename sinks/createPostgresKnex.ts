/**
 * A knex pool on a PostgreSQL server, set up the way docpipe's sinks need it.
 *
 * @example
 * ```ts
 * import { createPostgresKnex } from 'docpipe/sinks';
 * const knex = createPostgresKnex({ client: 'postgresql', host: '127.0.0.1', port: 5432, user: 'docpipe', password: 'docpipe', database: 'docpipe' }, 4);
 * console.log((await knex.raw('SELECT version()')).rows[0]);
 * await knex.destroy();
 * ```
 */
import knexFactory, { type Knex } from 'knex';

export interface PostgresConnection {
  client: 'postgresql';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** TLS to the server: `true` verifies its certificate against Node's CA list; `ca` is a PEM to trust instead. */
  ssl?: boolean | { rejectUnauthorized?: boolean; ca?: string };
}

/** A knex pool for docpipe on PostgreSQL, showing up as `docpipe` in `pg_stat_activity`. */
export const createPostgresKnex = (db: PostgresConnection, poolSize: number): Knex => {
  const { client: _client, ssl, ...connection } = db;
  return knexFactory({
    client: 'pg',
    connection: {
      ...connection,
      ...(ssl === undefined ? {} : { ssl }),
      application_name: 'docpipe',
      // Without it a connect to an address that drops packets hangs until the OS gives up,
      // minutes later; the pool's acquire timeout would fire first but leave the socket behind.
      connectionTimeoutMillis: 5_000,
      // No statement_timeout: a batch the server is slow to write would be cancelled (57014,
      // transient), retried, and cancelled again. The role's or database's own setting applies.
    },
    pool: { min: 0, max: poolSize },
    acquireConnectionTimeout: 10_000,
    // knex puts the failed statement in front of the error's message; compiled, that would be
    // every document of the batch, and the message goes to logs and dead-letter headers.
    compileSqlOnError: false,
  });
};
