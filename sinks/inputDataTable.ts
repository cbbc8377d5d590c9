/**
 * The `input_data` table as knex migrations: the upstream columns (`id`, `doc_id`, `title`,
 * `body`, `url`, `score`, `source`, `is_index`), utf8mb4, plus
 * - a unique key on `doc_id` (upstream had a plain index, hence its duplicate rows), and
 * - `src_topic` / `src_partition` / `src_offset` / `src_ts`, the Kafka position and timestamp
 *   of the version stored, and `doc_version`, the document's own version where it has one:
 *   they guard the upsert so that an older version never overwrites a newer one;
 * - `deleted_at`, set while a document is deleted: its row stays as a marker with the delete's
 *   version, so that an older version arriving late cannot bring it back.
 *
 * Migrations are tracked per table in `<table>_migrations`. The same migration creates the
 * table in an embedded SQLite file (the demo's database when no MySQL runs); MySQL-only table
 * options are left out there.
 *
 * @example
 * ```ts
 * import { migrateInputData } from 'docpipe/sinks';
 * await migrateInputData(knex, 'input_data'); // creates or upgrades; idempotent
 * ```
 */
import type { Knex } from 'knex';
import { isSqliteKnex } from './sqliteDatabase.js';
import { knexClient } from './knexClient.js';

const isPostgresKnex = (knex: Knex): boolean => knexClient(knex).config.client === 'pg';

const migrations = (table: string): Record<string, Knex.Migration> => ({
  '001_create_input_data': {
    up: async (knex) => {
      const sqlite = isSqliteKnex(knex);
      const mysql = !sqlite && !isPostgresKnex(knex);
      // Milliseconds, in UTC, like MySQL's CURRENT_TIMESTAMP(3) on a UTC server.
      const now = sqlite ? knex.raw("(strftime('%Y-%m-%d %H:%M:%f', 'now'))") : mysql ? knex.raw('CURRENT_TIMESTAMP(3)') : knex.raw('CURRENT_TIMESTAMP');
      await knex.schema.createTable(table, (t) => {
        // BIGINT: every upsert attempt consumes an auto-increment value, even one that updates.
        t.bigIncrements('id');
        t.bigInteger('doc_id').notNullable().unique(`${table}_doc_id_unique`);
        t.text('title', 'longtext');
        t.text('body', 'longtext');
        t.string('url', 256);
        t.double('score').notNullable().defaultTo(0);
        t.integer('source').comment('1 = CSV import, 2 = crawler');
        t.boolean('is_index').notNullable().defaultTo(false);
        t.integer('src_partition').notNullable();
        t.bigInteger('src_offset').notNullable();
        t.timestamp('updated_at', { precision: 3 }).notNullable().defaultTo(now);
        if (!mysql) return;
        t.engine('InnoDB');
        t.charset('utf8mb4');
        t.collate('utf8mb4_unicode_ci');
      });
    },
    down: async (knex) => {
      await knex.schema.dropTableIfExists(table);
    },
  },
  // The version of a row is its whole Kafka position and timestamp (see versionRule.ts); rows
  // from before keep NULL there, which the rule reads as "the same topic, time unknown".
  '002_versions_and_deletes': {
    up: async (knex) => {
      const mysql = !isSqliteKnex(knex) && !isPostgresKnex(knex);
      await knex.schema.alterTable(table, (t) => {
        // Kafka topic names have at most 249 characters; compared byte for byte, as Kafka does.
        const topic = t.string('src_topic', 249).nullable();
        if (mysql) topic.collate('utf8mb4_bin');
        t.bigInteger('src_ts').nullable().comment('Kafka timestamp, ms since the epoch');
        t.bigInteger('doc_version').nullable().comment("the document's own version (versionField)");
        t.timestamp('deleted_at', { precision: 3 }).nullable().comment('set while the document is deleted: the row is a marker that keeps its version');
      });
    },
    down: async (knex) => {
      await knex.schema.alterTable(table, (t) => {
        t.dropColumns('src_topic', 'src_ts', 'doc_version', 'deleted_at');
      });
    },
  },
});

const sourceFor = (table: string): Knex.MigrationSource<string> => {
  const all = migrations(table);
  return {
    getMigrations: () => Promise.resolve(Object.keys(all).sort()),
    getMigrationName: (name) => name,
    getMigration: (name) => Promise.resolve(all[name]!),
  };
};

/** A connection of the driver, as knex hands it out (mysql2). */
interface DriverConnection {
  query(sql: string, values: unknown[], cb: (err: Error | null, rows?: unknown) => void): void;
}

const queryOn = <T>(conn: DriverConnection, sql: string, values: unknown[]): Promise<T> =>
  new Promise((resolve, reject) => conn.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T))));

/** The server-wide lock name for migrating `table` in the current database (at most 64 characters). */
const LOCK_NAME = "CONCAT('docpipe:', SHA1(CONCAT(DATABASE(), '.', ?)))";

/**
 * Runs `fn` holding a named server lock (GET_LOCK) on a connection of its own, outside the pool
 * (which may have room for one connection only). The server releases such a lock when the
 * connection that holds it ends, so a process that dies holding it blocks nobody.
 */
const withServerLock = async <T>(knex: Knex, table: string, waitMs: number, fn: () => Promise<T>): Promise<T> => {
  const client = knex.client as { acquireRawConnection(): Promise<DriverConnection>; destroyRawConnection(c: DriverConnection): Promise<void> };
  const conn = await client.acquireRawConnection();
  try {
    const [row] = await queryOn<{ got: number | null }[]>(conn, `SELECT GET_LOCK(${LOCK_NAME}, ?) AS got`, [table, Math.ceil(waitMs / 1000)]);
    if (row?.got !== 1) {
      throw new Error(
        `another docpipe process has been migrating \`${table}\` for ${waitMs} ms; it may be stuck on a lock held by another session (see SHOW PROCESSLIST)`,
      );
    }
    try {
      return await fn();
    } finally {
      await queryOn(conn, `SELECT RELEASE_LOCK(${LOCK_NAME})`, [table]).catch(() => {});
    }
  } finally {
    await client.destroyRawConnection(conn).catch(() => {});
  }
};

/** This process's migrations under way: knex's lock row is set while one runs. */
const running = new Set<Promise<unknown>>();

/**
 * Resolves once no migration of this process is under way. A process that exits in the middle
 * of one (a stop asked for while starting) leaves knex's lock row set, and every later start
 * refuses to migrate until someone clears it; so such an exit waits for this first.
 *
 *   process.once('SIGTERM', () => void migrationsSettled().then(() => process.exit(0)));
 */
export const migrationsSettled = async (): Promise<void> => {
  while (running.size > 0) await Promise.allSettled([...running]);
};

const tracked = <T>(work: Promise<T>): Promise<T> => {
  running.add(work);
  const forget = () => running.delete(work);
  work.then(forget, forget);
  return work;
};

/**
 * Runs pending migrations. Members of one group often start together; on MySQL/MariaDB they
 * take turns under a named server lock, each waiting up to `lockWaitMs`. knex's own lock is a
 * row it sets and clears, which stays set when a process dies between the two — and MySQL
 * commits DDL at once, so not even a transaction undoes it. Found set while the server lock is
 * held, it was left by a process that died in a migration: that needs a look, not a wait.
 */
export const migrateInputData = async (knex: Knex, table = 'input_data', lockWaitMs = 30_000): Promise<string[]> => {
  // Tracked from the first statement knex sends: its lock row is set from then until it ends.
  const latest = (): Promise<string[]> => tracked(runLatest());
  const runLatest = async (): Promise<string[]> => {
    try {
      const [, applied] = (await knex.migrate.latest({
        migrationSource: sourceFor(table),
        tableName: `${table}_migrations`,
      })) as [number, string[]];
      return applied;
    } catch (err) {
      if ((err as { name?: string }).name !== 'MigrationLocked') throw err;
      throw new Error(
        `the migration lock in \`${table}_migrations_lock\` is set but no docpipe process is migrating: one died in a migration. Check \`${table}\`, then clear the lock with: UPDATE \`${table}_migrations_lock\` SET is_locked = 0`,
        { cause: err },
      );
    }
  };
  // An SQLite file has a single writer: the demo's own process.
  if (isSqliteKnex(knex)) return latest();
  return isPostgresKnex(knex) ? withAdvisoryLock(knex, table, latest) : withServerLock(knex, table, lockWaitMs, latest);
};

/** A client of pg, as knex creates it outside the pool. */
interface PgConnection {
  query(sql: string, values: unknown[]): Promise<unknown>;
}

/**
 * PostgreSQL's counterpart of GET_LOCK: a session advisory lock, released by the server when
 * the session ends, so a process that dies holding it blocks nobody. Its lock timeout bounds
 * the wait.
 */
const withAdvisoryLock = async <T>(knex: Knex, table: string, fn: () => Promise<T>): Promise<T> => {
  const client = knex.client as { acquireRawConnection(): Promise<PgConnection>; destroyRawConnection(c: PgConnection): Promise<void> };
  const conn = await client.acquireRawConnection();
  const key = `docpipe:${table}`;
  try {
    await conn.query("SELECT pg_advisory_lock(hashtext(current_database() || '.' || $1))", [key]);
    try {
      return await fn();
    } finally {
      await conn.query("SELECT pg_advisory_unlock(hashtext(current_database() || '.' || $1))", [key]).catch(() => {});
    }
  } finally {
    await client.destroyRawConnection(conn).catch(() => {});
  }
};
