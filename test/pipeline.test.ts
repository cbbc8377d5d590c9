// The default chain on the real broker and database: bad input of every kind ends as a
// correct row or a dead letter with a reason, and no partition stalls; versions land latest.
import t from 'tap';
import { createPipeline, type PipelineConfig } from '../pipeline/createPipeline.js';
import { DLQ_HEADERS } from '../sinks/deadLetterWriter.js';
import { knexClient } from '../sinks/knexClient.js';
import { createTopic, db, freshDatabase, kafkaBrokers, produce, uniqueName, type OutMessage } from './helpers/stack.js';
import { committedOffsets, headerValue, highWatermarks, readAll } from './helpers/kafka.js';
import { waitFor } from './helpers/wait.js';

const doc = (id: bigint | number | string, title: string, body = 'body', extra: Record<string, unknown> = {}) =>
  `{"doc_id": ${String(id)}, "title": ${JSON.stringify(title)}, "body": ${JSON.stringify(body)}${Object.entries(extra)
    .map(([k, v]) => `, ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join('')}}`;

const config = (topic: string, database: string, over: Partial<PipelineConfig> = {}): PipelineConfig => ({
  kafka: { brokers: kafkaBrokers, groupId: uniqueName('g'), topics: [topic] },
  db: { ...db, database },
  commitIntervalMs: 200,
  ...over,
});

t.test('bad input of every kind ends as a correct row or a dead letter; no partition stalls', async (t) => {
  const topic = await createTopic(t, 'badinput', 3, { 'max.message.bytes': String(16 * 1024 * 1024) });
  const { name, knex } = await freshDatabase(t);
  const big = '长'.repeat((5 * 1024 * 1024) / 3 + 10); // > 5 MB of UTF-8
  const hostile = 'Robert\'); DROP TABLE input_data;-- `backticks` \\ " %s ? ?? :name';
  const good: [string, string, string, string | undefined][] = [
    // doc_id, title, body, url
    ['9223372036854775807', 'max int64', 'b', undefined],
    ['-9223372036854775808', 'min int64', 'b', undefined],
    ['-42', 'negative', 'b', undefined],
    ['9007199254740993', '2^53 + 1', 'b', undefined],
    ['1001', '中文标题 with emoji 🦀🎉', '正文：4-byte 𠜎𠜱 and Chinese 你好世界', 'https://例子.测试/路径'],
    ['1002', hostile, hostile, undefined],
    ['1003', 'five megabytes', big, undefined],
    ['1004', 'unknown fields are ignored', 'b', undefined],
  ];
  const messages: OutMessage[] = [
    ...good.map(([id, title, body, url]) => ({ key: id, value: doc(id, title, body, url ? { url } : {}) })),
    { key: '1004', value: doc('1004', 'unknown fields are ignored', 'b', { secret_column: 'x', 'title`; --': 1 }) },
    { key: null, value: doc('1005', 'null key', 'b') },
  ];
  good.push(['1005', 'null key', 'b', undefined]);
  const bad: [string, OutMessage][] = [
    ['SyntaxError', { key: 'b1', value: '{"doc_id": 1, "title": ' }],
    ['NotAnObject', { key: 'b2', value: '[1,2,3]' }],
    ['SchemaError', { key: 'b3', value: '{"doc_id": 5, "body": "no title"}' }],
    ['SchemaError', { key: 'b4', value: '{"doc_id": "123", "title": "t", "body": "b"}' }],
    ['SchemaError', { key: 'b5', value: '{"doc_id": 1.5, "title": "t", "body": "b"}' }],
    ['SchemaError', { key: 'b6', value: '{"doc_id": 9223372036854775808, "title": "t", "body": "b"}' }],
    ['SchemaError', { key: 'b7', value: '{"doc_id": 6, "title": 7, "body": "b"}' }],
    ['SchemaError', { key: 'b8', value: doc(8, 't', 'b', { url: 'u'.repeat(300) }) }],
    ['EmptyValue', { key: 'b9', value: null }],
    ['EncodingError', { key: 'b10', value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }],
  ];
  for (const [, m] of bad) messages.push({ ...m, headers: [{ 'trace-id': `trace-${String(m.key)}` }] });
  await produce(topic, messages);

  const cfg = config(topic, name);
  const pipeline = await createPipeline(cfg);
  t.teardown(() => pipeline.stop());
  await waitFor(async () => {
    const [[row]] = (await knex.raw('SELECT COUNT(*) AS n FROM input_data')) as [[{ n: number }]];
    return Number(row.n) === good.length && pipeline.stats().deadLettered === bad.length;
  }, 'every good row and every dead letter');

  const rows = (await knex('input_data').select('doc_id', 'title', 'body', 'url').orderBy('doc_id')) as {
    doc_id: string;
    title: string;
    body: string;
    url: string | null;
  }[];
  const expected = good
    .map(([doc_id, title, body, url]) => ({ doc_id, title, body, url: url ?? null }))
    .sort((a, b) => (BigInt(a.doc_id) < BigInt(b.doc_id) ? -1 : 1));
  t.equal(rows.length, expected.length, 'one row per good document');
  for (const [i, want] of expected.entries()) {
    const got = rows[i]!;
    t.equal(got.doc_id, want.doc_id, `doc_id ${want.doc_id} exact`);
    t.ok(got.title === want.title && got.body === want.body && got.url === want.url, `doc ${want.doc_id} stored verbatim`);
  }

  const dead = await readAll(`${topic}.dlq`, bad.length);
  t.equal(dead.length, bad.length, 'one dead letter per bad record');
  for (const [errorClass, m] of bad) {
    const copy = dead.find((d) => String(d.key) === m.key);
    t.ok(copy, `${String(m.key)} was dead-lettered`);
    if (!copy) continue;
    t.equal(headerValue(copy, DLQ_HEADERS.errorClass), errorClass, `${String(m.key)}: ${errorClass}`);
    t.equal(headerValue(copy, DLQ_HEADERS.topic), topic);
    t.ok(headerValue(copy, DLQ_HEADERS.offset), 'names the original offset');
    t.ok(headerValue(copy, DLQ_HEADERS.message), 'gives a reason');
    t.equal(headerValue(copy, 'trace-id'), `trace-${String(m.key)}`, 'keeps the original headers');
    const original = m.value === null ? null : Buffer.from(m.value);
    t.same(copy.value ?? null, original, 'keeps the original value byte for byte');
  }

  // Nothing stalls: every partition's committed offset reaches its end.
  const high = await highWatermarks(topic, 3);
  t.equal(
    high.reduce((a, b) => a + b, 0),
    messages.length,
  );
  const committed = await waitFor(async () => {
    const c = await committedOffsets(cfg.kafka.groupId, topic, 3);
    return JSON.stringify(c) === JSON.stringify(high) && c;
  }, 'committed offsets to reach the end of every partition');
  t.same(committed, high, 'every partition committed to its end');
});

t.test('versions produced in order end with the newest, with concurrent batches in flight', async (t) => {
  const topic = await createTopic(t, 'versions', 2);
  const { name, knex } = await freshDatabase(t);
  const DOCS = 300;
  const VERSIONS = 5;
  const messages: OutMessage[] = [];
  for (let v = 1; v <= VERSIONS; v++) {
    for (let id = 0; id < DOCS; id++) messages.push({ key: String(id), value: doc(id, `v${v}`, `body of version ${v}`) });
  }
  await produce(topic, messages);
  // Small batches, many in flight: versions of one document race each other to the database.
  const pipeline = await createPipeline(config(topic, name, { batch: { maxRecords: 37, maxDelayMs: 5 }, sinkConcurrency: 6 }));
  t.teardown(() => pipeline.stop());
  // A version whose batch lost the race to a newer one's is stale: done, not written.
  await waitFor(() => pipeline.stats().recordsWritten + pipeline.stats().recordsStale === messages.length, 'every version to be done');
  t.ok(pipeline.stats().batches > VERSIONS * 2, `written in many batches (${pipeline.stats().batches})`);
  const rows = await knex('input_data').select<{ doc_id: string; title: string }[]>('doc_id', 'title');
  t.equal(rows.length, DOCS, 'one row per doc_id');
  t.same(
    rows.filter((r) => r.title !== `v${VERSIONS}`),
    [],
    'every row holds the newest version',
  );
});

t.test('replaying a batch leaves the table unchanged', async (t) => {
  const topic = await createTopic(t, 'replay', 1);
  const { name, knex } = await freshDatabase(t);
  await produce(
    topic,
    Array.from({ length: 200 }, (_, i) => ({ key: String(i % 50), value: doc(i % 50, `t${i}`) })),
  );
  const first = await createPipeline(config(topic, name));
  await waitFor(() => first.stats().recordsWritten === 200, 'the first pass');
  await first.stop();
  await knex('input_data').update({ is_index: true });
  const before = await knex('input_data').select().orderBy('doc_id');
  // A new group re-reads the whole topic: every batch is written a second time.
  const second = await createPipeline(config(topic, name));
  await waitFor(() => second.stats().recordsStale === 200, 'the replay');
  t.equal(second.stats().recordsWritten, 0, 'every replayed record is stale, none written');
  await second.stop();
  t.same(await knex('input_data').select().orderBy('doc_id'), before, 'same rows, same versions, same flags');
});

t.test('a blocked database holds commits and memory; everything lands when it returns', async (t) => {
  const topic = await createTopic(t, 'blocked', 2);
  const { name, knex } = await freshDatabase(t);
  const TOTAL = 3000;
  const MAX_IN_FLIGHT = 400;
  const cfg = config(topic, name, { budget: { maxRecords: MAX_IN_FLIGHT }, batch: { maxRecords: 100 } });
  // Create the table first, then hold a write lock on it from another session.
  const warmup = await createPipeline(config(topic, name));
  await warmup.stop();
  const lock = (await knexClient(knex).acquireConnection()) as { query: (sql: string, cb: (err: Error | null) => void) => void };
  t.teardown(() => knexClient(knex).releaseConnection(lock));
  await new Promise<void>((resolve, reject) => lock.query('LOCK TABLES input_data WRITE', (err: Error | null) => (err ? reject(err) : resolve())));

  await produce(
    topic,
    Array.from({ length: TOTAL }, (_, i) => ({ key: String(i), value: doc(i, `t${i}`) })),
  );
  const pipeline = await createPipeline(cfg);
  t.teardown(() => pipeline.stop());
  await waitFor(() => pipeline.stats().paused, 'the source to pause on a full budget');
  const peak = pipeline.stats().inFlight.records;
  t.ok(peak <= MAX_IN_FLIGHT, `in flight ${peak} <= budget ${MAX_IN_FLIGHT}`);
  // Give the commit timer several periods to (wrongly) commit something.
  await new Promise((r) => setTimeout(r, 1000));
  t.ok(pipeline.stats().inFlight.records <= MAX_IN_FLIGHT, 'still within budget while blocked');
  t.same(await committedOffsets(cfg.kafka.groupId, topic, 2), [-1001, -1001], 'nothing committed while nothing is written');

  await new Promise<void>((resolve, reject) => lock.query('UNLOCK TABLES', (err: Error | null) => (err ? reject(err) : resolve())));
  await waitFor(() => pipeline.stats().recordsWritten === TOTAL, 'everything to land after the database returns');
  const [[count]] = (await knex.raw('SELECT COUNT(*) AS n FROM input_data')) as [[{ n: string }]];
  t.equal(Number(count.n), TOTAL);
  const high = await highWatermarks(topic, 2);
  await waitFor(async () => JSON.stringify(await committedOffsets(cfg.kafka.groupId, topic, 2)) === JSON.stringify(high), 'commits to reach the end');
});

t.test('fatal start-up problems are reported within seconds with a clear message', async (t) => {
  const topic = await createTopic(t, 'fatal', 1);
  const { name } = await freshDatabase(t);
  await t.rejects(createPipeline(config(topic, name, { autoMigrate: false })), {
    name: 'FatalSinkError',
    message: /table input_data does not exist/,
  });
  await t.rejects(createPipeline(config(topic, name, { db: { ...db, database: name, password: 'wrong' } })), {
    name: 'FatalSinkError',
    message: /ER_ACCESS_DENIED_ERROR/,
  });
  await t.rejects(createPipeline(config(topic, name, { db: { ...db, database: name, port: 1 } })), {
    message: /ECONNREFUSED/,
  });
  const noBroker = await createPipeline(config(topic, name, { kafka: { brokers: '127.0.0.1:1', groupId: 'x', topics: [topic] } })).catch((err: unknown) => err);
  t.match(noBroker, { name: 'KafkaConnectError', message: /cannot connect to Kafka at 127\.0\.0\.1:1/ });
});

t.test('a user operator in the default chain can refuse records into the dead-letter topic', async (t) => {
  const { mapRecords } = await import('../operators/mapRecords.js');
  const { RecordError } = await import('../pipeline/core/rejections.js');
  const topic = await createTopic(t, 'useroperator', 1);
  const { name, knex } = await freshDatabase(t);
  await produce(topic, [
    { key: '1', value: doc(1, '  padded  ') },
    { key: '2', value: doc(2, '   ') },
  ]);
  const pipeline = await createPipeline(
    config(topic, name, {
      transform: ({ deadLetter }) =>
        mapRecords(
          (d) => {
            if (d.title.trim() === '') throw new RecordError('titles', 'EmptyTitle', 'title is blank');
            return { ...d, title: d.title.trim() };
          },
          { deadLetter },
        ),
    }),
  );
  t.teardown(() => pipeline.stop());
  await waitFor(() => pipeline.stats().recordsWritten === 1 && pipeline.stats().deadLettered === 1, 'one row and one dead letter');
  t.same(await knex('input_data').select('doc_id', 'title'), [{ doc_id: '1', title: 'padded' }]);
  const [dead] = await readAll(`${topic}.dlq`, 1);
  t.equal(dead && headerValue(dead, DLQ_HEADERS.stage), 'titles');
  t.equal(dead && headerValue(dead, DLQ_HEADERS.errorClass), 'EmptyTitle');
});

t.test('a dead letter that cannot be written holds its partition; it resumes once it can', async (t) => {
  const topic = await createTopic(t, 'dlqdown', 1);
  const { name, knex } = await freshDatabase(t);
  // A dead-letter topic that refuses anything but tiny messages.
  const dlqTopic = await createTopic(t, 'tinydlq', 1, { 'max.message.bytes': '100' });
  await produce(topic, [
    { key: '1', value: doc(1, 'before') },
    { key: 'poison', value: `not json ${'x'.repeat(500)}` },
    { key: '2', value: doc(2, 'after') },
  ]);
  const cfg = config(topic, name, {
    kafka: { brokers: kafkaBrokers, groupId: uniqueName('g'), topics: [topic], deadLetterTopic: () => dlqTopic },
  });
  const pipeline = await createPipeline(cfg);
  t.teardown(() => pipeline.stop());
  await waitFor(() => pipeline.stats().recordsWritten === 2, 'the good records on both sides of the poison one');
  await waitFor(async () => (await committedOffsets(cfg.kafka.groupId, topic, 1))[0] === 1, 'the commit up to the poison record');
  // Several commit intervals pass; the position must not move past the unwritten dead letter.
  await new Promise((r) => setTimeout(r, 1500));
  t.same(await committedOffsets(cfg.kafka.groupId, topic, 1), [1], 'held at the poison record');
  t.same(
    (await knex('input_data').select('doc_id').orderBy('doc_id')).map((r: { doc_id: string }) => r.doc_id),
    ['1', '2'],
  );

  // Make the dead-letter topic writable: delete it and let the broker re-create it with defaults.
  const Kafka = (await import('@confluentinc/kafka-javascript')).default;
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': kafkaBrokers, log_level: 0 });
  await new Promise<void>((resolve, reject) => admin.deleteTopic(dlqTopic, 10_000, (err) => (err ? reject(err) : resolve())));
  admin.disconnect();
  await waitFor(async () => (await committedOffsets(cfg.kafka.groupId, topic, 1))[0] === 3, 'the partition to move on', 90_000);
  const [dead] = await readAll(dlqTopic, 1);
  t.match(dead && headerValue(dead, DLQ_HEADERS.errorClass), 'SyntaxError', 'the poison record reached the dead-letter topic');
});

t.test("docpipe's database connections killed mid-write: retried, everything lands once, nothing dead-lettered", async (t) => {
  const topic = await createTopic(t, 'killconn', 2);
  const { name, knex } = await freshDatabase(t);
  const TOTAL = 20_000;
  await produce(
    topic,
    Array.from({ length: TOTAL }, (_, i) => ({ key: String(i), value: doc(i, `t${i}`, 'x'.repeat(500)) })),
  );
  const pipeline = await createPipeline(config(topic, name, { batch: { maxRecords: 200 }, retry: { initialDelayMs: 20, maxDelayMs: 200 } }));
  t.teardown(() => pipeline.stop());
  await waitFor(() => pipeline.stats().recordsWritten > 2000, 'writing to be under way');
  // Kill every connection of the pipeline's pool from another session, a few times over.
  let killed = 0;
  for (let round = 0; round < 3 && pipeline.stats().recordsWritten < TOTAL; round++) {
    const [ids] = (await knex.raw('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()', [name])) as [{ id: number }[]];
    for (const { id } of ids) {
      await knex.raw('KILL ?', [id]).catch(() => {});
      killed++;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(killed > 0, `killed ${killed} connections mid-run`);
  // A batch that committed just before its connection died is written again on retry, and
  // then finds its own versions there already: stale, not written twice.
  await waitFor(() => pipeline.stats().recordsWritten + pipeline.stats().recordsStale === TOTAL, 'every record to be done after the retries');
  const [[count]] = (await knex.raw('SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d FROM input_data')) as [[{ n: string; d: string }]];
  t.same(count, { n: String(TOTAL), d: String(TOTAL) });
  t.equal(pipeline.stats().deadLettered, 0, 'a lost connection is not a data error');
});

t.test('a poison record larger than the broker default still reaches the dead-letter topic docpipe creates', async (t) => {
  const topic = await createTopic(t, 'bigpoison', 1, { 'max.message.bytes': String(16 * 1024 * 1024) });
  const { name } = await freshDatabase(t);
  const { randomBytes } = await import('node:crypto');
  const poison = `not json ${randomBytes(2 * 1024 * 1024).toString('base64')}`; // ~2.8 MB, incompressible
  await produce(topic, [
    { key: 'big', value: poison },
    { key: '1', value: doc(1, 'after') },
  ]);
  const cfg = config(topic, name);
  const pipeline = await createPipeline(cfg);
  t.teardown(() => pipeline.stop());
  await waitFor(async () => (await committedOffsets(cfg.kafka.groupId, topic, 1))[0] === 2, 'the partition to move past the big poison record');
  const [copy] = await readAll(`${topic}.dlq`, 1);
  t.equal(copy?.value?.length, Buffer.byteLength(poison), 'the whole value was dead-lettered');
  t.equal(copy && headerValue(copy, DLQ_HEADERS.errorClass), 'SyntaxError');
});
