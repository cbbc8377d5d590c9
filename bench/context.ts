/**
 * What every scenario shares: one fresh database on the test stack's MariaDB, fresh topics
 * and tables on demand, the row-count check every measured run ends with, and a cleanup
 * list that drops all of it (also when a scenario fails). A fresh PostgreSQL database joins
 * them the first time a PostgreSQL contender asks for it.
 *
 *   const ctx = await openContext();
 *   const table = await ctx.freshTable('try');
 *   const pgTable = await (await ctx.postgres()).freshTable('try');
 *   await ctx.close(); // drops both databases and every topic
 */
import knexFactory, { type Knex } from 'knex';
import { createTopic, db, kafkaBrokers, produce, uniqueName } from '../test/helpers/stack.js';
import { migrateInputData } from '../sinks/inputDataTable.js';
import type { DbConnection } from '../sinks/database.js';
import { makeDocuments, toMessages } from './documents.js';
import { openPostgres, type PostgresStore, type TableStore } from './postgres.js';

/** The MariaDB side is the context itself; `postgres()` is the PostgreSQL one. */
export interface BenchContext extends TableStore {
  readonly brokers: string;
  /** The benchmark database, as docpipe's settings spell a connection. */
  readonly db: DbConnection;
  /** A pool on the benchmark database (peers and ceilings write through it). */
  readonly knex: Knex;
  /**
   * The benchmark's PostgreSQL database, created on the first call: a run without PostgreSQL
   * contenders needs no PostgreSQL server.
   */
  postgres(): Promise<PostgresStore>;
  /** A new topic holding `count` documents of about `bytes` each, produced in slices. */
  topicWithDocuments(label: string, partitions: number, count: number, bytes: number): Promise<string>;
  close(): Promise<void>;
}

export const openContext = async (): Promise<BenchContext> => {
  const cleanups: (() => unknown)[] = [];
  const scope = { teardown: (fn: () => unknown) => void cleanups.push(fn) };
  const admin = knexFactory({ client: 'mysql2', connection: { ...db } });
  const database = uniqueName(`${db.database}_bench`);
  await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4', [database]);
  cleanups.push(async () => {
    await admin.raw('DROP DATABASE IF EXISTS ??', [database]);
    await admin.destroy();
  });
  const knex = knexFactory({
    client: 'mysql2',
    connection: { ...db, database, charset: 'utf8mb4', supportBigNumbers: true, bigNumberStrings: true },
    pool: { min: 0, max: 6 },
  });
  cleanups.push(() => knex.destroy());
  let tables = 0;
  let postgres: Promise<PostgresStore> | undefined;

  return {
    brokers: kafkaBrokers,
    db: { ...db, database },
    knex,
    postgres: () => {
      if (!postgres) {
        const opening = openPostgres();
        cleanups.push(async () => (await opening.catch(() => undefined))?.close());
        // A server that is down fails every PostgreSQL contender with the same reason, once each.
        postgres = opening;
      }
      return postgres;
    },
    freshTable: async (label) => {
      // MySQL names stop at 64 characters; the counter keeps shortened names apart.
      const table = `${label.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40)}_${++tables}`;
      await migrateInputData(knex, table);
      return table;
    },
    dropTable: async (table) => {
      await knex.schema.dropTableIfExists(table);
      await knex.schema.dropTableIfExists(`${table}_migrations`);
      await knex.schema.dropTableIfExists(`${table}_migrations_lock`);
    },
    verifyRows: async (table, expected, who) => {
      const [rows] = (await knex.raw('SELECT COUNT(*) AS n FROM ??', [table])) as [[{ n: number | string }]];
      const n = Number(rows[0].n);
      if (n !== expected) throw new Error(`${who} left ${n} rows in ${table}, expected ${expected}: a bug in that contender`);
    },
    topicWithDocuments: async (label, partitions, count, bytes) => {
      const topic = await createTopic(scope, label, partitions);
      // Slices keep the generated JSON of a million documents out of memory all at once.
      const slice = Math.max(1, Math.floor((64 * 1024 * 1024) / bytes));
      for (let from = 0; from < count; from += slice) {
        await produce(topic, toMessages(makeDocuments(Math.min(slice, count - from), bytes, from)));
      }
      return topic;
    },
    close: async () => {
      for (const fn of cleanups.reverse()) await fn();
    },
  };
};
