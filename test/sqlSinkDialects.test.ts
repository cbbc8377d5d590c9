// One suite, run on each dialect against its real database (MariaDB, PostgreSQL, an SQLite
// file): a document type of the user's into a table made from its mapping, the same upsert and
// version guard everywhere, deletes, bisection around the rows each database refuses, mapping
// errors named by column, routing two topics into two tables, and a table that lacks a column.
import t from 'tap';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Deletion } from '../pipeline/core/documentVersion.js';
import { SqlSink, type SqlSinkOptions } from '../sinks/sqlSink.js';
import type { TableMapping } from '../sinks/tableMapping.js';
import { createKnex } from '../sinks/createKnex.js';
import { createPostgresKnex } from '../sinks/createPostgresKnex.js';
import { createSqliteKnex } from '../sinks/sqliteDatabase.js';
import { db, freshDatabase, type Teardown } from './helpers/stack.js';
import { freshPostgresDatabase } from './helpers/postgres.js';
import { envelopeOf } from './helpers/envelopes.js';

interface Order {
  id: number | bigint;
  customer: { name: string; email?: string | null };
  total: number;
  placed: string;
  express: boolean;
  lines: unknown;
  [field: string]: unknown;
}

const ORDERS: TableMapping<Order> = {
  key: ['order_id'],
  columns: {
    order_id: { type: 'bigint', from: 'id' },
    customer: { type: 'string', from: 'customer.name', length: 20 },
    email: { type: 'string', from: 'customer.email', optional: true },
    total: { type: 'number' },
    placed: { type: 'timestamp' },
    express: { type: 'boolean' },
    lines: { type: 'json' },
    items: { type: 'integer', from: (o) => (Array.isArray(o.lines) ? o.lines.length : undefined) },
  },
};

interface Note {
  id: number;
  text: string;
}

const NOTES: TableMapping<Note> = {
  key: ['id'],
  columns: { id: { type: 'bigint' }, text: { type: 'text' } },
  stamps: { flagged: false, origin: 'kafka', seen_at: 'now' },
};

interface Dialect {
  name: string;
  /** A pool on a database of the test's own. */
  open(t: Teardown & { testdir(): string }): Promise<Knex>;
  /** The error class a value too long for its column gets. */
  tooLong: RegExp;
}

const DIALECTS: Dialect[] = [
  {
    name: 'mysql',
    open: async (t) => {
      const { name } = await freshDatabase(t);
      const pool = createKnex({ ...db, database: name }, 2);
      t.teardown(() => pool.destroy());
      return pool;
    },
    tooLong: /^ER_DATA_TOO_LONG$/,
  },
  {
    name: 'postgresql',
    open: async (t) => {
      const { connection } = await freshPostgresDatabase(t);
      const pool = createPostgresKnex({ client: 'postgresql', ...connection }, 2);
      t.teardown(() => pool.destroy());
      return pool;
    },
    tooLong: /^22001$/,
  },
  {
    name: 'sqlite',
    open: (t) => {
      const pool = createSqliteKnex(join(t.testdir(), 'orders.db'));
      t.teardown(() => pool.destroy());
      return Promise.resolve(pool);
    },
    tooLong: /^SQLITE_CONSTRAINT_CHECK$/,
  },
];

const order = (id: number, customer: string, extra: Partial<Order> = {}): Order => ({
  id,
  customer: { name: customer, email: `${customer.toLowerCase().slice(0, 8)}@example.org` },
  total: id * 1.5,
  placed: '2026-12-01T08:30:00.250Z',
  express: id % 2 === 0,
  lines: [{ sku: `s${id}`, qty: 1 }],
  ...extra,
});

type Rec = Envelope<Order | Deletion>;
const at = (doc: Order | Deletion, offset: number, fields: Partial<Omit<Rec, 'payload' | 'offset'>> = {}): Rec =>
  envelopeOf<Order | Deletion>(doc, offset, { topic: 'orders', timestamp: 1_000 + offset, ...fields });

const sinkOn = (knex: Knex, options: Partial<SqlSinkOptions<Order>> = {}) => SqlSink.open<Order>(knex, { mapping: ORDERS, table: 'orders', ...options });

interface StoredOrder {
  order_id: string;
  customer: string | null;
  total: number | null;
  deleted: boolean;
}

const stored = async (knex: Knex, table = 'orders'): Promise<StoredOrder[]> => {
  const rows = (await knex(table).select('order_id', 'customer', 'total', 'deleted_at').orderBy('order_id')) as Record<string, unknown>[];
  return rows.map((r) => ({
    order_id: String(r.order_id),
    customer: (r.customer as string | null) ?? null,
    total: r.total === null ? null : Number(r.total),
    deleted: r.deleted_at !== null,
  }));
};

for (const dialect of DIALECTS) {
  t.test(dialect.name, async (t) => {
    t.test('documents of the user’s type land in a table made from the mapping, each value as its column holds it', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex);
      t.equal(sink.dialect.name, dialect.name);
      const big = 9_007_199_254_740_993n;
      const result = await sink.write([at(order(1, 'Ada'), 1), at(order(2, 'Grace'), 2), at({ ...order(3, 'Édith 中文'), id: big }, 3)]);
      t.same(result, { written: 3, rejected: [], stale: [] });
      const rows = (await knex('orders').select('*').orderBy('order_id')) as Record<string, unknown>[];
      t.same(
        rows.map((r) => String(r.order_id)),
        ['1', '2', big.toString()],
        'a 64-bit key kept exactly',
      );
      const ada = rows[0]!;
      t.equal(ada.customer, 'Ada', 'a dotted path read');
      t.equal(ada.email, 'ada@example.org');
      t.equal(Number(ada.total), 1.5);
      t.equal(Number(ada.items), 1, 'a function of the document read');
      t.equal(Boolean(Number(ada.express === true ? 1 : ada.express === false ? 0 : ada.express)), false);
      const lines: unknown = typeof ada.lines === 'string' ? JSON.parse(ada.lines) : ada.lines;
      t.same(lines, [{ sku: 's1', qty: 1 }], 'json stored as JSON');
      const placed = ada.placed instanceof Date ? ada.placed.getTime() : Date.parse(`${String(ada.placed).replace(' ', 'T')}Z`);
      t.equal(placed, Date.parse('2026-12-01T08:30:00.250Z'), 'the timestamp to the millisecond, in UTC');
      t.equal(rows[2]!.customer, 'Édith 中文');
      t.equal(ada.src_topic, 'orders');
      t.equal(Number(ada.src_offset), 1);
    });

    t.test('the same upsert and version guard on every dialect: replays and older versions are stale, newer ones replace', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex);
      await sink.write([at(order(1, 'v10'), 10), at(order(2, 'v20'), 20)]);
      const replay = await sink.write([at(order(1, 'v10'), 10)]);
      t.equal(replay.written, 0, 'a replay writes nothing');
      t.equal(replay.stale?.length, 1, 'and is counted stale');
      const older = await sink.write([at(order(1, 'v9'), 9), at(order(2, 'v21'), 21)]);
      t.equal(older.written, 1);
      t.same(
        older.stale?.map((r) => r.offset),
        [9],
        'the older version of order 1 is stale; order 2 moved on',
      );
      // Another topic: judged by timestamp.
      const elsewhere = await sink.write([
        at(order(1, 'mirror-late'), 3, { topic: 'orders-mirror', timestamp: 5_000 }),
        at(order(2, 'mirror-early'), 4, { topic: 'orders-mirror', timestamp: 10 }),
      ]);
      t.equal(elsewhere.written, 1);
      t.same(
        elsewhere.stale?.map((r) => r.payload),
        [order(2, 'mirror-early')],
      );
      // Within a batch, the newer version wins whatever the order.
      const inBatch = await sink.write([at(order(3, 'second'), 31), at(order(3, 'first'), 30)]);
      t.equal(inBatch.written, 1);
      t.same(
        inBatch.stale?.map((r) => r.offset),
        [30],
      );
      t.same(
        (await stored(knex)).map((r) => [r.order_id, r.customer]),
        [
          ['1', 'mirror-late'],
          ['2', 'v21'],
          ['3', 'second'],
        ],
      );
    });

    t.test('external versions decide alone; a delete leaves a marker an older version cannot bring back', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex, { versionRule: 'external', versionOf: (o) => BigInt(o.total) });
      await sink.write([at(order(1, 'v5', { total: 5 }), 100)]);
      const lower = await sink.write([at(order(1, 'v4', { total: 4 }), 200)]);
      t.equal(lower.written, 0, 'a lower version at a higher offset is stale');
      const del = await sink.write([at({ key: '1', deleted: true, version: 6n }, 300)]);
      t.equal(del.written, 1);
      t.same(await stored(knex), [{ order_id: '1', customer: null, total: null, deleted: true }], 'a marker, its content gone');
      const late = await sink.write([at(order(1, 'v5 again', { total: 5 }), 400)]);
      t.equal(late.written, 0, 'an older version after the delete stays out');
      const back = await sink.write([at(order(1, 'v7', { total: 7 }), 500)]);
      t.equal(back.written, 1);
      t.same(await stored(knex), [{ order_id: '1', customer: 'v7', total: 7, deleted: false }], 'a newer version brings it back');
      const badKey = await sink.write([at({ key: 'not-a-number', deleted: true, version: 9n }, 600)]);
      t.match(badKey.rejected[0]?.rejection, { errorClass: 'ColumnError', message: /column order_id: expected a signed 64-bit integer/ });
    });

    t.test('bisection isolates the rows the database refuses; documents the mapping cannot take are refused with the column named', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex);
      const records = Array.from({ length: 60 }, (_, i) => at(order(i, [7, 41, 42].includes(i) ? 'a name far too long for twenty' : `c${i}`), i));
      records.push(at({ ...order(100, 'no total'), total: undefined as unknown as number }, 100));
      records.push(at({ ...order(101, 'text total'), total: 'twelve' as unknown as number }, 101));
      const result = await sink.write(records);
      t.equal(result.written, 57);
      const refused = result.rejected.map((r) => [r.record.offset, r.rejection.stage, r.rejection.errorClass] as const).sort((a, b) => a[0] - b[0]);
      t.same(
        refused.map(([o, s]) => [o, s]),
        [
          [7, 'sink'],
          [41, 'sink'],
          [42, 'sink'],
          [100, 'map'],
          [101, 'map'],
        ],
      );
      for (const [, , errorClass] of refused.slice(0, 3)) t.match(errorClass, dialect.tooLong);
      const byOffset = new Map(result.rejected.map((r) => [r.record.offset, r.rejection.message]));
      t.match(byOffset.get(100), /column total: the document has no value for it/);
      t.match(byOffset.get(101), /column total: expected a finite number, got "twelve"/);
      t.equal((await stored(knex)).length, 57, 'every other row is in the table');
    });

    t.test('two topics routed into two tables by ${topic}, each created at first sight', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex, { table: 'orders_${topic}', topics: ['shop.eu'] });
      t.same(sink.tables(), ['orders_shop_eu'], 'the known topic’s table is made at open');
      const result = await sink.write([
        at(order(1, 'eu'), 1, { topic: 'shop.eu' }),
        at(order(1, 'us'), 1, { topic: 'shop-us' }),
        at(order(2, 'us'), 2, { topic: 'shop-us' }),
      ]);
      t.equal(result.written, 3);
      t.same(
        (await stored(knex, 'orders_shop_eu')).map((r) => r.customer),
        ['eu'],
      );
      t.same(
        (await stored(knex, 'orders_shop_us')).map((r) => r.customer),
        ['us', 'us'],
      );
    });

    t.test('one batch of several topics, a delete and a replayed record keeps each row’s own version', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex);
      const origin = (topic: string, offset: number) => [
        { key: 'docpipe.version.topic', value: Buffer.from(topic) },
        { key: 'docpipe.version.partition', value: Buffer.from('4') },
        { key: 'docpipe.version.offset', value: Buffer.from(String(offset)) },
      ];
      // What MySQL spells once for a batch (one topic, no deletes) must not leak into a batch
      // where rows differ, nor be spelt at all when a topic is not a plain Kafka name.
      const mixed = await sink.write([
        at(order(1, 'a'), 1),
        at(order(2, 'b'), 2, { topic: 'orders-eu' }),
        at({ key: '3', deleted: true, version: null }, 3),
        at(order(4, 'd'), 90, { topic: 'orders.dlq', headers: origin("it's a \\ topic", 7) }),
      ]);
      t.equal(mixed.written, 4);
      const odd = await sink.write([at(order(5, 'e'), 91, { topic: 'orders.dlq', headers: origin("it's a \\ topic", 8) })]);
      t.equal(odd.written, 1);
      const rows = (await knex('orders')
        .select('order_id', 'src_topic', 'src_partition', 'src_offset', 'deleted_at', 'doc_version')
        .orderBy('order_id')) as Record<string, unknown>[];
      t.same(
        rows.map((r) => [String(r.order_id), r.src_topic, Number(r.src_partition), Number(r.src_offset), r.deleted_at !== null, r.doc_version]),
        [
          ['1', 'orders', 0, 1, false, null],
          ['2', 'orders-eu', 0, 2, false, null],
          ['3', 'orders', 0, 3, true, null],
          ['4', "it's a \\ topic", 4, 7, false, null],
          ['5', "it's a \\ topic", 4, 8, false, null],
        ],
      );
    });

    t.test('insert mode keeps the first version of a key', async (t) => {
      const knex = await dialect.open(t);
      const sink = await sinkOn(knex, { mapping: { ...ORDERS, mode: 'insert' }, table: 'order_events' });
      await sink.write([at(order(1, 'first'), 1)]);
      const again = await sink.write([at(order(1, 'second'), 2), at(order(2, 'other'), 3)]);
      t.equal(again.written, 1);
      t.same(
        again.stale?.map((r) => r.offset),
        [2],
      );
      t.same(
        (await stored(knex, 'order_events')).map((r) => r.customer),
        ['first', 'other'],
      );
    });

    t.test(
      'stamps are set on every insert and replacement, whether the column default gives them (a table made from the mapping) or not (the user’s)',
      async (t) => {
        const knex = await dialect.open(t);
        // The user's table: its defaults say otherwise than the stamps, so an insert must spell them.
        await knex.schema.createTable('own_notes', (tb) => {
          tb.bigInteger('id').primary();
          tb.text('text');
          tb.boolean('flagged').defaultTo(true);
          tb.string('origin', 255).defaultTo('manual');
          tb.datetime('seen_at', { precision: 3 }).nullable();
          tb.datetime('deleted_at', { precision: 3 }).nullable();
          tb.string('src_topic', 249).nullable();
          tb.integer('src_partition').notNullable();
          tb.bigInteger('src_offset').notNullable();
          tb.bigInteger('src_ts').nullable();
          tb.bigInteger('doc_version').nullable();
        });
        for (const table of ['made_notes', 'own_notes']) {
          const sink = await SqlSink.open<Note>(knex, { mapping: NOTES, table });
          const note = (id: number, text: string, offset: number) => envelopeOf<Note>({ id, text }, offset, { topic: 'notes', timestamp: 1_000 + offset });
          const stamped = async (): Promise<[string, string, boolean, string, boolean][]> =>
            ((await knex(table).select('id', 'text', 'flagged', 'origin', 'seen_at').orderBy('id')) as Record<string, unknown>[]).map((r) => [
              String(r.id),
              String(r.text),
              Boolean(Number(r.flagged)),
              String(r.origin),
              r.seen_at !== null,
            ]);
          await sink.write([note(1, 'a', 1)]);
          t.same(await stamped(), [['1', 'a', false, 'kafka', true]], `${table}: inserted with its stamps`);
          await knex(table).update({ flagged: true, origin: 'edited', seen_at: null });
          await sink.write([note(1, 'b', 2), note(2, 'c', 3)]);
          t.same(
            await stamped(),
            [
              ['1', 'b', false, 'kafka', true],
              ['2', 'c', false, 'kafka', true],
            ],
            `${table}: stamped again when replaced, and on the next insert`,
          );
        }
      },
    );

    t.test('a table that lacks a mapped column, or the key, stops the start and says what is missing', async (t) => {
      const knex = await dialect.open(t);
      await (await sinkOn(knex)).write([at(order(1, 'x'), 1)]);
      await knex.schema.alterTable('orders', (tb) => tb.dropColumn('email'));
      await t.rejects(sinkOn(knex), { name: 'FatalSinkError', message: /table orders does not fit the mapping: it has no column email/ });
      await knex.schema.createTable('loose', (tb) => {
        tb.bigInteger('order_id');
        for (const c of ['customer', 'email', 'placed', 'lines', 'src_topic']) tb.string(c);
        for (const c of ['total', 'express', 'items', 'src_partition', 'src_offset', 'src_ts', 'doc_version', 'deleted_at']) tb.bigInteger(c);
      });
      await t.rejects(sinkOn(knex, { table: 'loose' }), { message: /no primary or unique key is on exactly \(order_id\)/ });
      await t.rejects(sinkOn(knex, { table: 'missing', autoMigrate: false }), { message: /table missing does not exist; create it with 'docpipe migrate'/ });
      await t.rejects(sinkOn(knex, { mapping: { ...ORDERS, key: ['nope'] } }), { name: 'FatalSinkError', message: /key: "nope" is not one of the columns/ });
    });
  });
}
