// Migrating the table on the real database: members starting together take turns, a lock left
// by a process that died is no obstacle, and a half-finished migration is reported at once.
import t from 'tap';
import knexFactory from 'knex';
import { createKnex } from '../sinks/createKnex.js';
import { migrateInputData } from '../sinks/inputDataTable.js';
import { db, freshDatabase } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';

const lockName = "CONCAT('docpipe:', SHA1(CONCAT(DATABASE(), '.', 'input_data')))";

t.test('members starting together, each with a one-connection pool: one migrates, all succeed', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pools = Array.from({ length: 5 }, () => createKnex({ ...db, database: name }, 1));
  t.teardown(() => Promise.all(pools.map((p) => p.destroy())));
  const applied = await Promise.all(pools.map((p) => migrateInputData(p)));
  t.same(applied.flat(), ['001_create_input_data', '002_versions_and_deletes'], 'each migration ran exactly once');
  t.ok(await knex.schema.hasTable('input_data'));
  const [[lock]] = (await knex.raw('SELECT is_locked FROM input_data_migrations_lock')) as [[{ is_locked: number }]];
  t.equal(lock.is_locked, 0, "knex's lock is left free");
});

t.test('a migration lock held by a session that then dies is released with it', async (t) => {
  const { name } = await freshDatabase(t);
  // A process mid-migration: a connection of its own holding the lock.
  const holder = knexFactory({ client: 'mysql2', connection: { ...db, database: name }, pool: { min: 1, max: 1 } });
  const [[held]] = (await holder.raw(`SELECT GET_LOCK(${lockName}, 0) AS got`)) as [[{ got: number }]];
  t.equal(held.got, 1);
  const pool = createKnex({ ...db, database: name }, 1);
  t.teardown(() => pool.destroy());
  const migrating = migrateInputData(pool, 'input_data', 20_000);
  await waitFor(
    async () => {
      const [rows] = (await holder.raw(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT GET_LOCK%' AND ID <> CONNECTION_ID()",
        [name],
      )) as [unknown[]];
      return rows.length > 0;
    },
    'the migration to wait for the lock',
    10_000,
  );
  t.notOk(await pool.schema.hasTable('input_data'), 'nothing migrated while the lock is held');
  await holder.destroy(); // the process dies; the server lets its lock go
  t.same(await migrating, ['001_create_input_data', '002_versions_and_deletes']);
});

t.test("knex's lock row left set by a process that died mid-migration: a clear error at once", async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 1);
  t.teardown(() => pool.destroy());
  await migrateInputData(pool);
  await knex.raw('UPDATE input_data_migrations_lock SET is_locked = 1');
  // A second migration, so there is one to run.
  await knex('input_data_migrations').delete();
  await knex.schema.dropTable('input_data');
  await t.rejects(migrateInputData(pool, 'input_data', 20_000), {
    message: /no docpipe process is migrating: one died in a migration.*SET is_locked = 0/,
  });
});

t.test('a table from before versions were kept is upgraded in place, its rows kept', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 1);
  t.teardown(() => pool.destroy());
  await migrateInputData(pool);
  // Back to the first migration's table, with a row in it.
  await knex.schema.alterTable('input_data', (tb) => tb.dropColumns('src_topic', 'src_ts', 'doc_version', 'deleted_at'));
  await knex('input_data_migrations').where({ name: '002_versions_and_deletes' }).delete();
  await knex('input_data').insert({ doc_id: 7, title: 'kept', body: 'b', src_partition: 0, src_offset: 41 });
  t.same(await migrateInputData(pool), ['002_versions_and_deletes']);
  t.same(await knex('input_data').select('doc_id', 'title', 'src_topic', 'src_offset', 'src_ts', 'doc_version', 'deleted_at'), [
    { doc_id: '7', title: 'kept', src_topic: null, src_offset: '41', src_ts: null, doc_version: null, deleted_at: null },
  ]);
});
