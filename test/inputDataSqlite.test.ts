// The embedded SQLite sink on a real SQLite file: exact 64-bit doc_ids, hostile strings kept
// verbatim, the version guard (replays and older versions change nothing), deletes, a missing table.
import t from 'tap';
import { join } from 'node:path';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Document } from '../operators/validate.js';
import { INT64_MAX, INT64_MIN } from '../operators/validate.js';
import { SqlSink } from '../sinks/sqlSink.js';
import { INPUT_DATA, type InputDataDocument } from '../sinks/inputDataMapping.js';
import { createSqliteKnex } from '../sinks/sqliteDatabase.js';
import { FatalSinkError } from '../pipeline/core/recordSink.js';
import { envelopeOf } from './helpers/envelopes.js';

const record = (id: bigint, title: string, offset: number, partition = 0, body = 'b'): Envelope<Document> =>
  envelopeOf({ doc_id: id, title, body }, offset, { partition, size: 10 });

const open = (t: { testdir(): string; teardown(fn: () => unknown): void }) => {
  const knex = createSqliteKnex(join(t.testdir(), 'docpipe.db'));
  t.teardown(() => knex.destroy());
  return knex;
};

t.test('doc_ids keep all 64 bits; hostile strings land verbatim', async (t) => {
  const knex = open(t);
  const sink = await SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA });
  const hostile = "'); DROP TABLE input_data; -- `x` \\ \u0000 NUL 😀 中文";
  const result = await sink.write([record(INT64_MAX, hostile, 1), record(INT64_MIN, 'min', 2, 0, hostile), record(9007199254740993n, 'beyond 2^53', 3)]);
  t.same(result, { written: 3, rejected: [], stale: [] });
  const rows = (await knex('input_data').select('doc_id', 'title', 'body').orderBy('doc_id')) as { doc_id: bigint; title: string; body: string }[];
  t.same(
    rows.map((r) => [r.doc_id, r.title, r.body]),
    [
      [INT64_MIN, 'min', hostile],
      [9007199254740993n, 'beyond 2^53', 'b'],
      [INT64_MAX, hostile, 'b'],
    ],
  );
});

t.test('a later version wins, within a batch and across batches; a replay or an older one changes nothing', async (t) => {
  const knex = open(t);
  const sink = await SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA });
  t.equal((await sink.write([record(1n, 'v1', 10), record(2n, 'other', 11), record(1n, 'v2', 12)])).written, 2, 'two distinct doc_ids');
  const row = async () =>
    (await knex('input_data').where({ doc_id: 1n }).select('title', 'is_index', 'src_offset', 'updated_at'))[0] as Record<string, unknown>;
  t.match(await row(), { title: 'v2', src_offset: 12n });
  await knex('input_data').update({ is_index: 1, updated_at: '2000-01-01 00:00:00.000' });
  await sink.write([record(1n, 'v2', 12)]);
  await sink.write([record(1n, 'v1', 10)]);
  t.same(await row(), { title: 'v2', is_index: 1n, src_offset: 12n, updated_at: '2000-01-01 00:00:00.000' }, 'unchanged');
  await sink.write([record(1n, 'v3', 5, 1)]);
  const moved = await row();
  t.match(moved, { title: 'v3', is_index: 0n, src_offset: 5n }, 'a version from another partition, at the same timestamp, wins by its greater position');
  t.ok(String(moved['updated_at']) > '2000', `updated_at moved to ${String(moved['updated_at'])}`);
  const [{ n }] = (await knex('input_data').count({ n: '*' })) as [{ n: bigint }];
  t.equal(n, 2n, 'one row per doc_id');
});

t.test('a missing table is fatal when migrations are off; a bad table name is refused', async (t) => {
  const knex = open(t);
  await t.rejects(SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA, autoMigrate: false }), {
    constructor: FatalSinkError,
    message: /table input_data does not exist/,
  });
  await t.rejects(SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA, table: 'x; DROP' }), { message: /table must be 1-64 letters/ });
});

t.test('the same version rule as MySQL: stale records are returned, deletes leave a marker, external versions decide alone', async (t) => {
  const knex = open(t);
  const sink = await SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA });
  const at = (title: string, offset: number, timestamp: number, topic = 't'): Envelope<Document> =>
    envelopeOf({ doc_id: 1n, title, body: 'b' }, offset, { timestamp, topic, size: 1 });
  await sink.write([at('v1', 5, 1000)]);
  const older = at('from another topic, older', 0, 900, 'u');
  t.same((await sink.write([older])).stale, [older], 'an older version from another topic is stale');
  await sink.write([at('re-created topic', 0, 2000)]);
  const title = async () =>
    (await knex('input_data').where({ doc_id: 1n }).select('title', 'deleted_at'))[0] as { title: string | null; deleted_at: string | null };
  t.equal((await title()).title, 're-created topic', 'a lower offset of the same partition with a later timestamp wins');
  const deletion = envelopeOf({ key: '1', deleted: true as const, version: null }, 1, { timestamp: 3000, size: 0 });
  await sink.write([deletion]);
  t.match(await title(), { title: null, deleted_at: /^\d{4}-/ }, 'deleted: a marker stays');
  const late = at('late', 9, 2500, 'u');
  t.same((await sink.write([late])).stale, [late], 'a late older version does not bring it back');

  const external = await SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA, table: 'versioned', versionRule: 'external' });
  const v = (version: bigint, partition: number): Envelope<Document> =>
    envelopeOf({ doc_id: 2n, title: `version ${version}`, body: 'b', version }, 0, { partition, timestamp: Number(10n - version), size: 1 });
  await external.write([v(3n, 0)]);
  await external.write([v(1n, 1)]);
  await external.write([v(2n, 2)]);
  t.same(await knex('versioned').select('title', 'doc_version'), [{ title: 'version 3', doc_version: 3n }]);
});
