/**
 * The `input_data` table as knex migrations: the upstream columns (`id`, `doc_id`, `title`,
 * `body`, `url`, `score`, `source`, `is_index`), utf8mb4, plus
 * - a unique key on `doc_id` (upstream had a plain index, hence its duplicate rows), and
 * - `src_partition` / `src_offset`, the Kafka position of the version stored, which guards
 *   the upsert so that an older version never overwrites a newer one.
 *
 * Migrations are tracked per table in `<table>_migrations`. The same migration creates the
 * table in an embedded SQLite file (the demo's database when no MySQL runs); MySQL-only table
 * options are left out there.
 *
 * @example
 * ```ts
 * await migrateInputData(knex, 'input_data'); // creates or upgrades; idempotent
 * ```
 */
import type { Knex } from 'knex';
import { isSqliteKnex } from './sqliteDatabase.js';

const migrations = (table: string): Record<string, Knex.Migration> => ({
  '001_create_input_data': {
    up: async (knex) => {
      const sqlite = isSqliteKnex(knex);
      // Milliseconds, in UTC, like MySQL's CURRENT_TIMESTAMP(3) on a UTC server.
      const now = sqlite ? knex.raw("(strftime('%Y-%m-%d %H:%M:%f', 'now'))") : knex.raw('CURRENT_TIMESTAMP(3)');
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
        if (sqlite) return;
        t.engine('InnoDB');
        t.charset('utf8mb4');
        t.collate('utf8mb4_unicode_ci');
      });
    },
    down: async (knex) => {
      await knex.schema.dropTableIfExists(table);
    },
  },
});

const sourceFor = (table: string): Knex.MigrationSource<string> => {
  const all = migrations(table);
  return {
    getMigrations: async () => Object.keys(all).sort(),
    getMigrationName: (name) => name,
    getMigration: async (name) => all[name]!,
  };
};

/**
 * Runs pending migrations. Members of one group often start together: while another process
 * holds the migration lock this waits for it (up to `lockWaitMs`) instead of failing.
 */
export const migrateInputData = async (knex: Knex, table = 'input_data', lockWaitMs = 30_000): Promise<string[]> => {
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      const [, applied] = (await knex.migrate.latest({
        migrationSource: sourceFor(table),
        tableName: `${table}_migrations`,
      })) as [number, string[]];
      return applied;
    } catch (err) {
      // Another member is migrating: it holds the lock, or won the race to create knex's own
      // bookkeeping tables.
      const e = err as { name?: string; code?: string };
      const raced = e.name === 'MigrationLocked' || e.code === 'ER_TABLE_EXISTS_ERROR' || e.code === 'ER_DUP_ENTRY';
      if (!raced) throw err;
      if (Date.now() > deadline) {
        throw new Error(
          `the migration lock in \`${table}_migrations_lock\` has been held for ${lockWaitMs} ms; if no migration is running (a process died in one), clear it with: UPDATE \`${table}_migrations_lock\` SET is_locked = 0`,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400));
    }
  }
};
