// The default mapping (input_data) on the real MariaDB: data errors are isolated by splitting the batch, the rest is
// written; a dropped table mid-run is fatal with a message.
import t from 'tap';
import { from, lastValueFrom, toArray } from 'rxjs';
import { createKnex } from '../sinks/createKnex.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Document } from '../operators/validate.js';
import { SqlSink } from '../sinks/sqlSink.js';
import { INPUT_DATA, type InputDataDocument } from '../sinks/inputDataMapping.js';
import { encodeDocuments } from '../operators/encodeDocuments.js';
import { db, freshDatabase } from './helpers/stack.js';
import { envelopeOf } from './helpers/envelopes.js';

const record = (id: number, title: string, offset = id, payload: Document = { doc_id: BigInt(id), title, body: 'b' }): Envelope<Document> =>
  envelopeOf(payload, offset, { size: 10 });

t.test('rows the database refuses are isolated by splitting; the rest is written', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  // A narrower column than the schema allows stands in for any row the server refuses.
  await knex.raw('ALTER TABLE input_data MODIFY title VARCHAR(10)');
  const records = Array.from({ length: 100 }, (_, i) => record(i, [13, 57, 58].includes(i) ? 'far too long for ten' : `ok ${i}`));
  const result = await sink.write(records);
  t.equal(result.written, 97);
  t.same(
    result.rejected.map((r) => [Number((r.record.payload as Document).doc_id), r.rejection.stage, r.rejection.errorClass]),
    [
      [13, 'sink', 'ER_DATA_TOO_LONG'],
      [57, 'sink', 'ER_DATA_TOO_LONG'],
      [58, 'sink', 'ER_DATA_TOO_LONG'],
    ],
  );
  const [[count]] = (await knex.raw('SELECT COUNT(*) AS n FROM input_data')) as [[{ n: string }]];
  t.equal(Number(count.n), 97, 'every other row is in the table');
});

t.test('duplicates in a batch keep the later record; rows too large for a packet are refused up front', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  const [[{ p }]] = (await knex.raw('SELECT @@max_allowed_packet AS p')) as [[{ p: string }]];
  const huge = { ...record(3, 'huge'), payload: { doc_id: 3n, title: 'huge', body: 'x'.repeat(Number(p)) } };
  const result = await sink.write([record(1, 'first', 10), record(2, 'other', 11), record(1, 'second', 12), huge]);
  t.equal(result.written, 2, 'two distinct doc_ids written');
  t.same(
    result.rejected.map((r) => r.rejection.errorClass),
    ['RowTooLarge'],
  );
  t.same(await knex('input_data').select('doc_id', 'title').orderBy('doc_id'), [
    { doc_id: '1', title: 'second' },
    { doc_id: '2', title: 'other' },
  ]);
});

t.test('documents encoded by encodeDocuments are stored as the same text and refused by the same rules', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  // Characters, not bytes: ten 3-byte characters fit VARCHAR(10), eleven do not.
  await knex.raw('ALTER TABLE input_data MODIFY title VARCHAR(10)');
  const docs: Document[] = [
    { doc_id: 1n, title: '中文中文中文中文中文', body: '🦀 `; DROP TABLE x; -- \' " \\ \u0000 \ufffd', url: 'https://例子.测试/路径?q=1' },
    { doc_id: 2n, title: '', body: '', url: null },
    { doc_id: 3n, title: '中文中文中文中文中文中', body: 'refused: one character too many' },
    { doc_id: 4n, title: 'plain', body: 'x'.repeat(70_000) },
  ];
  const encoded = await lastValueFrom(from(docs.map((d, i) => record(i, '', i, d))).pipe(encodeDocuments(), toArray()));
  t.ok(Buffer.isBuffer(encoded[0]!.payload.body), 'the text travels as bytes');
  const result = await sink.write(encoded);
  t.equal(result.written, 3);
  t.same(
    result.rejected.map((r) => [r.record.offset, r.rejection.errorClass]),
    [[2, 'ER_DATA_TOO_LONG']],
  );
  const rows = (await knex('input_data').select('doc_id', 'title', 'body', 'url').orderBy('doc_id')) as Record<string, unknown>[];
  t.same(
    rows,
    [docs[0]!, docs[1]!, docs[3]!].map((d) => ({ doc_id: d.doc_id.toString(), title: d.title, body: d.body, url: d.url ?? null })),
    'read back as the strings that were encoded',
  );
});

t.test('a table dropped under a running sink is fatal and says so', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  await knex.schema.dropTable('input_data');
  await t.rejects(sink.write([record(1, 'x')]), { name: 'FatalSinkError', message: /writing to input_data failed: ER_NO_SUCH_TABLE/ });
});

t.test('an older version superseded in its batch shares the fate of the newer one the database refuses', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  await knex.raw('ALTER TABLE input_data MODIFY title VARCHAR(10)');
  const result = await sink.write([record(1, 'short', 10), record(2, 'ok', 11), record(1, 'far too long for ten', 12)]);
  t.equal(result.written, 1);
  t.same(
    result.rejected.map((r) => [r.record.offset, r.rejection.errorClass]),
    [
      [12, 'ER_DATA_TOO_LONG'],
      [10, 'ER_DATA_TOO_LONG'],
    ],
    'both versions of doc 1 are dead-lettered, none acknowledged as written',
  );
  t.match(result.rejected[1]!.rejection.message, /superseded in its batch by offset 12/);
});

t.test('a new version resets is_index and updated_at; a replay or an older version leaves the row alone', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  await sink.write([record(7, 'v1', 10)]);
  // As the indexer would mark it, and dated far back so any later write shows.
  const mark = () => knex('input_data').update({ is_index: 1, updated_at: '2000-01-01 00:00:00.000' });
  const row = async () =>
    (await knex('input_data').select('title', 'is_index', knex.raw('YEAR(updated_at) AS y')))[0] as { title: string; is_index: number; y: number };
  await mark();
  await sink.write([record(7, 'v1', 10)]);
  await sink.write([record(7, 'v0', 9)]);
  t.same(await row(), { title: 'v1', is_index: 1, y: 2000 }, 'replay and older version change nothing');
  await sink.write([record(7, 'v2', 11)]);
  const after = await row();
  t.equal(after.title, 'v2');
  t.equal(after.is_index, 0, 'the new version is indexed again');
  t.ok(after.y > 2000, `updated_at moved (year ${after.y})`);
});

t.test('batches of every size share prepared statements; one over the parameter limit is split; a row of most of a packet fits', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const pool = createKnex({ ...db, database: name }, 2);
  t.teardown(() => pool.destroy());
  const sink = await SqlSink.open<InputDataDocument>(pool, { mapping: INPUT_DATA });
  // More distinct batch sizes than the sink keeps statement texts for and the driver keeps
  // prepared statements for: evicted shapes must be prepared again, not fail.
  let id = 0;
  for (let size = 1; size <= 40; size++) {
    const result = await sink.write(Array.from({ length: size }, () => record(++id, `t${id}`)));
    t.equal(result.written, size, `batch of ${size}`);
  }
  // 12,000 rows are 72,000 parameters; a statement takes 65,535 at most.
  const big = await sink.write(Array.from({ length: 12_000 }, () => record(++id, `t${id}`)));
  t.equal(big.written, 12_000);
  t.same(big.rejected, []);
  const [[p]] = (await knex.raw('SELECT @@max_allowed_packet AS p')) as [[{ p: string }]];
  // Text SQL had to escape it (up to twice its size); as a parameter it goes as it is.
  const body = 'é'.repeat(Math.floor((Number(p) * 0.6) / 2));
  const large = await sink.write([{ ...record(++id, 'large'), payload: { doc_id: BigInt(id), title: 'large', body } }]);
  t.equal(large.written, 1, 'a row of 0.6 × max_allowed_packet is written');
  const [[count]] = (await knex.raw('SELECT COUNT(*) AS n, SUM(title = CONCAT("t", doc_id)) AS named FROM input_data')) as [[{ n: string; named: string }]];
  t.equal(Number(count.n), id, 'every row is in the table');
  t.equal(Number(count.named), id - 1, 'each with its own title');
  const [[stored]] = (await knex.raw('SELECT CHAR_LENGTH(body) AS n, body = ? AS same FROM input_data WHERE doc_id = ?', [body, id])) as [
    [{ n: number; same: number }],
  ];
  t.equal(Number(stored.n), body.length);
  t.equal(Number(stored.same), 1, 'the large body stored exactly');
});
