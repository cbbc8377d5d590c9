// Which version of a document the table keeps, whatever the topics' history: several topics into
// one table, a topic deleted and re-created, redelivery, external versions, deletes, dead-letter
// replay; and that refused versions are counted as stale, never as written.
import t from 'tap';
import Kafka from '@confluentinc/kafka-javascript';
import { createPipeline, type Pipeline, type PipelineConfig } from '../pipeline/createPipeline.js';
import { createOperations } from '../pipeline/cli/operationsServer.js';
import { dlqReplayCommand } from '../pipeline/cli/commands/dlqReplay.js';
import { verifyTopic } from '../pipeline/cli/commands/verify.js';
import { createTopic, db, freshDatabase, kafkaBrokers, produce, uniqueName, type OutMessage, type Teardown } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';

const doc = (id: number, title: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ doc_id: id, title, body: `body of ${title}`, ...extra });

const config = (topics: string[], database: string, over: Partial<PipelineConfig> = {}): PipelineConfig => ({
  kafka: { brokers: kafkaBrokers, groupId: uniqueName('g'), topics },
  db: { ...db, database },
  commitIntervalMs: 200,
  ...over,
});

interface Row {
  doc_id: string;
  title: string | null;
  src_topic: string | null;
  src_offset: string;
  deleted_at: Date | null;
}
const rowsOf = async (knex: import('knex').Knex): Promise<Map<string, Row>> =>
  new Map((await knex('input_data').select<Row[]>('doc_id', 'title', 'src_topic', 'src_offset', 'deleted_at')).map((r) => [String(r.doc_id), r]));

const run = async (t: Teardown, cfg: PipelineConfig): Promise<Pipeline> => {
  const pipeline = await createPipeline(cfg);
  t.teardown(() => pipeline.stop());
  return pipeline;
};

/** Records done one way or another: written, stale or dead-lettered. */
const settled = (p: Pipeline): number => {
  const s = p.stats();
  return s.recordsWritten + s.recordsStale + s.deadLettered;
};

const now = Date.now();

t.test('a newer version on a second topic at a lower offset replaces the stored one', async (t) => {
  const first = await createTopic(t, 'vfirst');
  const second = await createTopic(t, 'vsecond');
  const { name, knex } = await freshDatabase(t);
  // doc 1 sits at offset 5 of the first topic; its newer version at offset 0 of the second.
  await produce(first, [
    ...Array.from({ length: 5 }, (_, i) => ({ key: String(100 + i), value: doc(100 + i, 'filler'), timestamp: now - 10_000 })),
    { key: '1', value: doc(1, 'old'), timestamp: now - 5_000 },
  ]);
  const pipeline = await run(t, config([first, second], name));
  await waitFor(async () => (await rowsOf(knex)).get('1')?.title === 'old', 'the old version written');
  await produce(second, [{ key: '1', value: doc(1, 'new'), timestamp: now }]);
  await waitFor(() => settled(pipeline) === 7, 'every record done');
  const row = (await rowsOf(knex)).get('1')!;
  t.equal(row.title, 'new', 'the newer version wins, though its offset is lower');
  t.equal(row.src_topic, second, 'the row says which topic it came from');
  t.equal(pipeline.stats().recordsStale, 0);

  // And the old one, arriving again from the first topic later (a mirror catching up), is stale.
  await produce(first, [{ key: '1', value: doc(1, 'older still'), timestamp: now - 60_000 }]);
  await waitFor(() => settled(pipeline) === 8, 'the late record done');
  t.equal((await rowsOf(knex)).get('1')!.title, 'new');
  t.equal(pipeline.stats().recordsStale, 1, 'counted as stale');
  t.equal(pipeline.stats().recordsWritten, 7, 'and not as written');
});

const deleteTopic = (topic: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': kafkaBrokers, log_level: 0 });
    admin.deleteTopic(topic, 10_000, (err) => {
      admin.disconnect();
      if (err) reject(err);
      else resolve();
    });
  });

const recreateTopic = async (topic: string): Promise<void> => {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': kafkaBrokers, log_level: 0 });
  try {
    // The broker deletes a topic in the background; creating it again fails until it has.
    await waitFor(
      () => new Promise<boolean>((resolve) => admin.createTopic({ topic, num_partitions: 1, replication_factor: 1 }, 10_000, (err) => resolve(!err))),
      'the topic created again',
      30_000,
      250,
    );
  } finally {
    admin.disconnect();
  }
};

t.test('after a topic is deleted and re-created, a new version at offset 0 replaces the stored one', async (t) => {
  const topic = await createTopic(t, 'vrecreated');
  const { name, knex } = await freshDatabase(t);
  await produce(topic, [
    ...Array.from({ length: 3 }, (_, i) => ({ key: String(200 + i), value: doc(200 + i, 'filler') })),
    { key: '1', value: doc(1, 'before') },
  ]);
  const cfg = config([topic], name);
  const before = await createPipeline(cfg);
  await waitFor(() => settled(before) === 4, 'the first incarnation written');
  await before.stop();
  t.equal((await rowsOf(knex)).get('1')?.src_offset, '3');

  await deleteTopic(topic);
  await recreateTopic(topic);
  await produce(topic, [{ key: '1', value: doc(1, 'after') }]);
  // The same group: its committed offset (4) is past the new end, so it starts over at 0.
  const after = await run(t, cfg);
  await waitFor(async () => (await rowsOf(knex)).get('1')?.title === 'after', 'the new incarnation’s version written');
  t.equal((await rowsOf(knex)).get('1')!.src_offset, '0');
  t.equal(after.stats().recordsStale, 0);
});

const metricsServer = async (stats: () => ReturnType<Pipeline['stats']>) => {
  const ops = createOperations();
  const server = await ops.listen(0, stats, '127.0.0.1');
  const port = (server.address() as { port: number }).port;
  return { server, metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text() };
};

t.test('a redelivered record changes nothing and counts as stale in /metrics', async (t) => {
  const topic = await createTopic(t, 'vredeliver', 2);
  const { name, knex } = await freshDatabase(t);
  await produce(
    topic,
    Array.from({ length: 20 }, (_, i) => ({ key: String(i), value: doc(i, `v${i}`) })),
  );
  const first = await createPipeline(config([topic], name));
  await waitFor(() => settled(first) === 20, 'written once');
  await first.stop();
  const [[{ at }]] = (await knex.raw('SELECT MAX(updated_at) AS at FROM input_data')) as [[{ at: Date }]];

  // A second group reads the same records again, as a member does after a crash.
  const again = await run(t, config([topic], name));
  const { server, metrics } = await metricsServer(() => again.stats());
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await waitFor(() => settled(again) === 20, 'read again');
  t.equal(again.stats().recordsWritten, 0, 'nothing written');
  t.equal(again.stats().recordsStale, 20, 'every one stale');
  const [[{ at: later }]] = (await knex.raw('SELECT MAX(updated_at) AS at FROM input_data')) as [[{ at: Date }]];
  t.same(later, at, 'no row touched');
  const text = await metrics();
  t.match(text, new RegExp(`docpipe_records_stale_total\\{topic="${topic}"\\} 20\\b`));
});

t.test('with versionField, versions 3, 1, 2 on three partitions end at 3', async (t) => {
  const topic = await createTopic(t, 'vexternal', 3);
  const { name, knex } = await freshDatabase(t);
  // Produced in that order, so by Kafka timestamps version 2 would be the latest.
  const messages: OutMessage[] = [3, 1, 2].map((v, partition) => ({
    key: '1',
    partition,
    value: doc(1, `version ${v}`, { version: v }),
    timestamp: now + partition,
  }));
  messages.push({ key: '2', partition: 0, value: doc(2, 'no version') });
  await produce(topic, messages);
  const pipeline = await run(t, config([topic], name, { versionField: 'version' }));
  await waitFor(() => settled(pipeline) === 4, 'every record done');
  t.equal((await rowsOf(knex)).get('1')?.title, 'version 3');
  t.equal(pipeline.stats().deadLettered, 1, 'a document without its version is a record error');
  t.notOk((await rowsOf(knex)).has('2'));
});

t.test('a delete followed by a late older version leaves no row', async (t) => {
  const topic = await createTopic(t, 'vdelete', 2);
  const { name, knex } = await freshDatabase(t);
  await produce(topic, [
    { key: '1', partition: 0, value: doc(1, 'live'), timestamp: now - 2_000 },
    { key: '2', partition: 0, value: doc(2, 'stays'), timestamp: now - 2_000 },
    { key: '1', partition: 0, value: null, timestamp: now - 1_000 },
    { key: 'not-a-doc-id', partition: 0, value: null },
  ]);
  const pipeline = await run(t, config([topic], name, { deletes: true }));
  await waitFor(() => settled(pipeline) === 4, 'every record done');
  // Version 'live' may count as stale already, when its delete came first within their batch.
  const staleBefore = pipeline.stats().recordsStale;
  await produce(topic, [{ key: '1', partition: 1, value: doc(1, 'late and older'), timestamp: now - 1_500 }]);
  await waitFor(() => settled(pipeline) === 5, 'the late record done');
  const rows = await rowsOf(knex);
  t.ok(rows.get('1')?.deleted_at instanceof Date, 'doc 1 is deleted (a marker keeps its version)');
  t.equal(rows.get('1')?.title, null, 'its text is gone');
  const [[{ live }]] = (await knex.raw('SELECT COUNT(*) AS live FROM input_data WHERE deleted_at IS NULL')) as [[{ live: number }]];
  t.equal(Number(live), 1, 'only doc 2 is live');
  t.equal(pipeline.stats().recordsStale, staleBefore + 1, 'the late version is stale');
  t.equal(pipeline.stats().deadLettered, 1, 'a tombstone whose key is no doc_id is dead-lettered');

  // docpipe verify reads the tombstone as a delete too.
  const check = await verifyTopic(topic, 'input_data', { kafkaBrokers, db: { ...db, database: name } }, { deletes: true });
  t.match(check, { documents: 2, deleted: 1, rows: 1, missing: [], extra: [], outdated: [] });
  await knex('input_data').where({ doc_id: 1 }).update({ deleted_at: null, title: 'resurrected' });
  t.match(
    await verifyTopic(topic, 'input_data', { kafkaBrokers, db: { ...db, database: name } }, { deletes: true }),
    { extra: ['1'] },
    'a deleted document back in the table is reported',
  );
});

t.test('without deletes, a tombstone is dead-lettered with a reason that says how to turn them on', async (t) => {
  const topic = await createTopic(t, 'vnodelete');
  const { name } = await freshDatabase(t);
  await produce(topic, [{ key: '1', value: null }]);
  const pipeline = await run(t, config([topic], name));
  await waitFor(() => settled(pipeline) === 1, 'the tombstone done');
  const { readAll, headerValue } = await import('./helpers/kafka.js');
  const [letter] = await readAll(`${topic}.dlq`, 1);
  t.match(letter && headerValue(letter, 'docpipe.error.message'), /deletes: true/);
});

t.test('replaying an old dead letter after a newer version was written leaves the newer', async (t) => {
  const topic = await createTopic(t, 'vreplay');
  const { name, knex } = await freshDatabase(t);
  const cfg = config([topic], name);
  const first = await createPipeline(cfg);
  // A column too narrow for version 1 makes the database refuse it, so it is dead-lettered.
  await knex.raw('ALTER TABLE input_data MODIFY title VARCHAR(10)');
  await produce(topic, [{ key: '1', value: doc(1, 'version one, too long') }]);
  await waitFor(() => first.stats().deadLettered === 1, 'version 1 dead-lettered');
  await produce(topic, [{ key: '1', value: doc(1, 'version 2') }]);
  await waitFor(() => settled(first) === 2, 'both done');
  t.equal(first.stats().deadLettered, 1);
  await first.stop();
  // The cause fixed, the dead letter goes back to its topic, at a new, higher offset.
  await knex.raw('ALTER TABLE input_data MODIFY title LONGTEXT');
  const code = await withEnv({ DOCPIPE_KAFKA_BROKERS: kafkaBrokers }, () =>
    dlqReplayCommand({ topic: `${topic}.dlq`, rate: '1000', group: uniqueName('replay') }),
  );
  t.equal(code, 0);
  const again = await run(t, cfg);
  await waitFor(() => settled(again) === 1, 'the replayed record done');
  t.equal((await rowsOf(knex)).get('1')?.title, 'version 2', 'judged by its first position, it is older');
  t.equal(again.stats().recordsStale, 1);
});

const withEnv = async <T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
};
