// The harness works: rows written through knex + mysql2 over TCP come back unchanged,
// utf8mb4 and signed 64-bit integers included.
import t from 'tap';
import knexFactory from 'knex';
import { db, freshDatabase } from './helpers/stack.js';

t.test('rows written through knex read back byte for byte', async (t) => {
  const { knex } = await freshDatabase(t);
  await knex.schema.createTable('docs', (table) => {
    table.bigIncrements('id');
    table.bigInteger('doc_id').notNullable().unique();
    table.text('title', 'longtext');
  });
  const rows = [
    { doc_id: '9223372036854775807', title: 'max int64' },
    { doc_id: '-9223372036854775808', title: 'min int64' },
    { doc_id: '9007199254740993', title: '2^53 + 1, which a JS number cannot hold' },
    { doc_id: '1', title: '中文标题 and emoji 🦀 (4-byte UTF-8)' },
    { doc_id: '2', title: 'quotes \' " backticks ` and ; DROP TABLE docs; --' },
  ];
  await knex('docs').insert(rows);

  // supportBigNumbers/bigNumberStrings keep int64 exact on the way out too.
  const read = await knex('docs').select('doc_id', 'title').orderBy('id').options({ supportBigNumbers: true, bigNumberStrings: true });
  t.same(read, rows, 'every row reads back as written');

  const [[charset]] = (await knex.raw(
    "SELECT CCSA.character_set_name AS cs FROM information_schema.TABLES T JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA ON CCSA.collation_name = T.table_collation WHERE T.table_schema = DATABASE() AND T.table_name = 'docs'",
  )) as [[{ cs: string }]];
  t.equal(charset.cs, 'utf8mb4', 'the table is utf8mb4');

  await t.rejects(knex('docs').insert({ doc_id: '1', title: 'again' }), { code: 'ER_DUP_ENTRY' }, 'the unique key refuses a second row for a doc_id');
});

t.test('a wrong password is refused with the server error, not a hang', async (t) => {
  const bad = knexFactory({
    client: 'mysql2',
    connection: { ...db, password: `${db.password}-wrong` },
    acquireConnectionTimeout: 5_000,
  });
  t.teardown(() => bad.destroy());
  await t.rejects(bad.raw('SELECT 1'), { code: 'ER_ACCESS_DENIED_ERROR' });
});
