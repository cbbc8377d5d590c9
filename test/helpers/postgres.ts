// Where the test stack's PostgreSQL listens (test/stack/postgres.sh provisions it), and a
// fresh database on it per test, as freshDatabase in ./stack.ts does for MariaDB.
import knex, { type Knex } from 'knex';
import { uniqueName, type Teardown } from './stack.js';

const env = process.env;

export const pg = {
  host: env.DOCPIPE_PG_HOST ?? '127.0.0.1',
  port: Number(env.DOCPIPE_PG_PORT ?? 5432),
  user: env.DOCPIPE_PG_USER ?? 'docpipe',
  password: env.DOCPIPE_PG_PASSWORD ?? 'docpipe',
  database: env.DOCPIPE_PG_NAME ?? 'docpipe',
};

/**
 * Creates a database `<DOCPIPE_PG_NAME>_t_<unique>` owned by the docpipe role and a knex pool
 * on it; drops both when the test ends.
 */
export const freshPostgresDatabase = async (t: Teardown): Promise<{ name: string; knex: Knex; connection: typeof pg }> => {
  // Lower case: PostgreSQL folds names, and psql users type them unquoted.
  const name = uniqueName(`${pg.database}_t`).toLowerCase();
  const admin = knex({ client: 'pg', connection: { ...pg }, pool: { min: 0, max: 1 } });
  const connection = { ...pg, database: name };
  // An admin pool left open would keep the test process alive after a failed CREATE.
  await admin.raw('CREATE DATABASE ??', [name]).catch(async (err: unknown) => {
    await admin.destroy();
    throw err;
  });
  const pool = knex({ client: 'pg', connection, pool: { min: 0, max: 4 } });
  t.teardown(async () => {
    await pool.destroy();
    // FORCE: a connection the test leaked (a child process still running) must not keep the
    // database alive.
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    await admin.destroy();
  });
  return { name, knex: pool, connection };
};
