/**
 * The benchmark's PostgreSQL side: one fresh database per run on the test stack's PostgreSQL
 * (test/stack/postgres.sh), fresh `input_data`-shaped tables on it, and the same row-count
 * check as on MariaDB, so that PostgreSQL contenders run through the same runner.
 *
 *   const store = await openPostgres();
 *   const table = await store.freshTable('try');
 *   await store.verifyRows(table, 0, 'nobody');
 *   await store.close(); // drops the database
 */
import knexFactory, { type Knex } from 'knex';
import { pg } from '../test/helpers/postgres.js';
import { uniqueName } from '../test/helpers/stack.js';
import { migrateInputData } from '../sinks/inputDataTable.js';
import type { PostgresConnection } from '../sinks/database.js';

/** Where a contender's rows go: fresh tables, dropped after, their row counts checked. */
export interface TableStore {
  /** A fresh `input_data`-shaped table named after `label`. */
  freshTable(label: string): Promise<string>;
  dropTable(table: string): Promise<void>;
  /** Fails unless `table` holds exactly `expected` rows: a contender that loses rows is broken. */
  verifyRows(table: string, expected: number, who: string): Promise<void>;
}

export interface PostgresStore extends TableStore {
  /** The benchmark database, as docpipe's settings spell a PostgreSQL connection. */
  readonly db: PostgresConnection;
  /** `server_version`, for the results. */
  readonly version: string;
  close(): Promise<void>;
}

export const openPostgres = async (): Promise<PostgresStore> => {
  // Lower case: PostgreSQL folds unquoted names, and someone looking in with psql types them so.
  const database = uniqueName(`${pg.database}_bench`).toLowerCase();
  const admin = knexFactory({ client: 'pg', connection: { ...pg }, pool: { min: 0, max: 1 } });
  try {
    await admin.raw('CREATE DATABASE ??', [database]);
  } catch (err) {
    await admin.destroy();
    throw err;
  }
  const knex: Knex = knexFactory({ client: 'pg', connection: { ...pg, database }, pool: { min: 0, max: 2 } });
  let tables = 0;
  try {
    const { rows } = await knex.raw<{ rows: [{ server_version: string }] }>('SHOW server_version');
    return {
      db: { client: 'postgresql', ...pg, database },
      version: rows[0].server_version,
      freshTable: async (label) => {
        // Names stop at 63 bytes here, and the migration adds `_doc_id_unique` to the table's.
        const table = `${label.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40)}_${++tables}`.toLowerCase();
        await migrateInputData(knex, table);
        return table;
      },
      dropTable: async (table) => {
        for (const t of [table, `${table}_migrations`, `${table}_migrations_lock`]) await knex.schema.dropTableIfExists(t);
      },
      verifyRows: async (table, expected, who) => {
        const { rows: counted } = await knex.raw<{ rows: [{ n: number }] }>('SELECT COUNT(*)::int AS n FROM ??', [table]);
        const n = counted[0].n;
        if (n !== expected) throw new Error(`${who} left ${n} rows in ${table}, expected ${expected}: a bug in that contender`);
      },
      close: async () => {
        await knex.destroy();
        // FORCE: a connection a failed contender left open must not keep the database alive.
        await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [database]);
        await admin.destroy();
      },
    };
  } catch (err) {
    await knex.destroy();
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [database]).catch(() => {});
    await admin.destroy();
    throw err;
  }
};
