/**
 * `docpipe demo`: the main job end to end on this machine, in one command. It uses the Kafka
 * broker and database the DOCPIPE_* settings point at, starting the project's local broker
 * (test/stack/kafka.sh, needs Java) when none answers, or librdkafka's in-process mock cluster
 * when there is no Java; when no MySQL answers it writes to an embedded SQLite file; generates documents mixing Chinese and
 * English text with a few deliberately bad records; runs the pipeline while producing them at
 * a steady rate; verifies topic against table; prints a summary (documents/s, rows, dead
 * letters, p50/p99 produce-to-row latency); and removes its topic and table and whatever it
 * started, leaving no process behind.
 *
 * @example
 * ```sh
 * npm run demo            # 50,000 documents at 5,000/s
 * npx docpipe demo --docs 10000 --rate 2000
 * npx docpipe demo --kafka mock --db sqlite   # nothing but Node needed
 * ```
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import Kafka from '@confluentinc/kafka-javascript';
import { connectionFromEnv } from '../runConfig.js';
import { createPipeline } from '../../createPipeline.js';
import { createKnex } from '../../../sinks/createKnex.js';
import { openDatabase } from '../../../sinks/database.js';
import { isSqlite, type Database, type DbConnection } from '../../../sinks/database.js';
import { describeDbError } from '../../../sinks/mysqlErrors.js';
import { DocumentProducer } from '../../kafka/documentProducer.js';
import { createLogger } from '../logger.js';
import { verifyTopic } from './verify.js';
import { startMockCluster } from '../../kafka/mockCluster.js';

const run = promisify(execFile);

const EN = ['search', 'engine', 'index', 'document', 'stream', 'kafka', 'table', 'offset', 'batch', 'query', 'ranking', 'crawler'];
const ZH = ['搜索', '引擎', '索引', '文档', '数据流', '分区', '批量', '查询', '排序', '爬虫', '中文', '测试'];

const words = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((seed + i) % 3 === 0 ? ZH : EN)[(seed * 7 + i * 13) % 12]).join(' ');

/** The repository root, found from this file in both pipeline/ and dist/pipeline/. */
const repoRoot = (): string => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'test/stack/kafka.sh')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
};

const brokerAnswers = (brokers: string): Promise<boolean> =>
  new Promise((done) => {
    const p = new Kafka.Producer({ 'bootstrap.servers': brokers, log_level: 0 });
    p.connect({ timeout: 3000 }, (err) => {
      if (err) done(false);
      else p.disconnect(() => done(true));
    });
  });

const autoCreateTopic = (brokers: string, topic: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const p = new Kafka.Producer({ 'bootstrap.servers': brokers, log_level: 0 });
    p.connect({ timeout: 10_000 }, (err) => {
      if (err) return reject(err);
      // The first metadata request creates the topic; its partitions show up a moment later.
      const deadline = Date.now() + 10_000;
      const ask = () => {
        p.getMetadata({ topic, timeout: 5_000 }, (_e, metadata) => {
          const n = metadata?.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
          if (n > 0) p.disconnect(() => resolve(n));
          else if (Date.now() > deadline) p.disconnect(() => reject(new Error(`topic ${topic} was not created`)));
          else setTimeout(ask, 100);
        });
      };
      ask();
    });
  });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

/** librdkafka's mock cluster drops a partition's oldest data past ~5 MiB: stay well under. */
const MOCK_MAX_DOCS = 10_000;

const hasJava = async (): Promise<boolean> =>
  run(process.env['JAVA_HOME'] ? join(process.env['JAVA_HOME'], 'bin/java') : 'java', ['-version']).then(
    () => true,
    () => false,
  );

/** Why the configured MySQL cannot be used, or undefined when it answers. */
const mysqlProblem = async (db: DbConnection): Promise<string | undefined> => {
  const knex = createKnex(db, 1);
  try {
    await knex.raw('SELECT 1');
    return undefined;
  } catch (err) {
    return describeDbError(err);
  } finally {
    await knex.destroy();
  }
};

export const demoCommand = async (options: { docs: string; rate: string; kafka: string; db?: string }): Promise<number> => {
  const usage = (message: string) => (console.error(`docpipe demo: ${message}`), 2);
  const dbChoice = options.db ?? 'auto';
  if (!['auto', 'local', 'mock'].includes(options.kafka)) return usage(`--kafka must be auto, local or mock, got "${options.kafka}"`);
  if (!['auto', 'mysql', 'sqlite'].includes(dbChoice)) return usage(`--db must be auto, mysql or sqlite, got "${dbChoice}"`);
  let total = Number(options.docs);
  const rate = Number(options.rate);
  if (!Number.isInteger(total) || total < 1) return usage(`--docs must be a whole number greater than 0, got "${options.docs}"`);
  if (!Number.isFinite(rate) || rate <= 0) return usage(`--rate must be documents per second greater than 0, got "${options.rate}"`);
  const connection = connectionFromEnv(process.env);
  let kafkaBrokers = connection.kafkaBrokers;
  const cleanup: (() => Promise<unknown>)[] = [];
  const say = (s: string) => console.log(`demo: ${s}`);
  try {
    let db: Database = connection.db;
    const problem = dbChoice === 'sqlite' ? 'asked for' : await mysqlProblem(connection.db);
    if (problem !== undefined) {
      if (dbChoice === 'mysql') throw new Error(`cannot use MySQL at ${connection.db.host}:${connection.db.port}: ${problem}`);
      const dir = await mkdtemp(join(tmpdir(), 'docpipe-demo-'));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      db = { client: 'sqlite', filename: join(dir, 'demo.db') };
      say(
        `${dbChoice === 'sqlite' ? 'as asked' : `no MySQL at ${connection.db.host}:${connection.db.port} (${problem})`}: writing to an embedded SQLite database, ${db.filename}`,
      );
    }
    const script = join(repoRoot(), 'test/stack/kafka.sh');
    const useMock =
      options.kafka === 'mock' || (options.kafka === 'auto' && !(await brokerAnswers(kafkaBrokers)) && !(existsSync(script) && (await hasJava())));
    if (useMock) {
      const mock = await startMockCluster();
      cleanup.push(() => mock.stop());
      kafkaBrokers = mock.bootstrap;
      if (total > MOCK_MAX_DOCS) {
        say(`librdkafka's mock cluster keeps only ~5 MiB a partition: using ${MOCK_MAX_DOCS} documents instead of ${total}`);
        total = MOCK_MAX_DOCS;
      }
      say(
        `${options.kafka === 'mock' ? 'as asked' : 'no Kafka broker answers and there is no Java for the local one'}: using librdkafka's in-process mock cluster at ${kafkaBrokers}`,
      );
    } else if (!(await brokerAnswers(kafkaBrokers))) {
      if (!existsSync(script)) throw new Error(`no Kafka broker answers at ${kafkaBrokers}; set DOCPIPE_KAFKA_BROKERS`);
      say(`no broker at ${kafkaBrokers}; starting the local one…`);
      await run('bash', [script, 'up']).catch((err: Error & { stderr?: string }) => {
        throw new Error(`could not start the local Kafka broker:\n${err.stderr ?? String(err)}`);
      });
      cleanup.push(() => run('bash', [script, 'down']));
    }

    const stamp = Date.now().toString(36);
    const topic = `docpipe_demo_${stamp}`;
    const table = `demo_${stamp}`;
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': kafkaBrokers, log_level: 0 });
    // The mock cluster has no CreateTopics; it creates a topic when a client asks for its
    // metadata (with 4 partitions).
    const partitions = useMock
      ? await autoCreateTopic(kafkaBrokers, topic)
      : await new Promise<number>((ok, fail) => admin.createTopic({ topic, num_partitions: 3, replication_factor: 1 }, 10_000, (e) => (e ? fail(e) : ok(3))));
    cleanup.push(
      () => new Promise<void>((ok) => admin.deleteTopic(`${topic}.dlq`, 10_000, () => admin.deleteTopic(topic, 10_000, () => (admin.disconnect(), ok())))),
    );
    const knex = openDatabase(db, 1);
    cleanup.push(async () => {
      await knex.schema.dropTableIfExists(table);
      await knex.schema.dropTableIfExists(`${table}_migrations`);
      await knex.schema.dropTableIfExists(`${table}_migrations_lock`);
      await knex.destroy();
    });

    const pipeline = await createPipeline({
      kafka: { brokers: kafkaBrokers, groupId: `docpipe-demo-${stamp}`, topics: [topic] },
      db,
      table,
      logger: createLogger({ level: process.env['DOCPIPE_LOG_LEVEL'] ?? 'warn' }),
    });
    cleanup.push(() => pipeline.stop());

    // Every 500th record is broken on purpose, in one of four ways; every 10th document gets
    // a second version later.
    const producer = await DocumentProducer.open({ brokers: kafkaBrokers });
    cleanup.push(() => producer.close());
    // Latency is measured from a running member, not from a group still forming.
    await waitUntil(() => pipeline.stats().assignedPartitions === partitions, 60_000);
    say(`producing ${total} documents to ${topic} at ${rate}/s while the pipeline runs…`);
    const sentAt = new Map<string, number>();
    const latestTitle = new Map<string, string>();
    let bad = 0;
    const started = Date.now();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i / rate) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      await producer.ready();
      if (i % 500 === 499) {
        bad++;
        const broken = [
          `{"doc_id": ${i}, "title": `,
          JSON.stringify({ doc_id: String(i), title: 't', body: 'b' }),
          JSON.stringify({ doc_id: i, body: 'no title' }),
          null,
        ][bad % 4]!;
        pending.push(producer.send(topic, broken, String(i)));
        continue;
      }
      const id = i % 10 === 5 ? i - 1 : i; // a newer version of the document just before
      const doc = { doc_id: BigInt(id), title: `${words(6, i)} #${i}`, body: words(120, i * 3), url: `https://example.com/${id}` };
      sentAt.set(String(id), Date.now());
      latestTitle.set(String(id), doc.title);
      pending.push(producer.sendDocument(topic, doc));
    }
    await Promise.all(pending);
    const produced = total;
    await waitUntil(
      () =>
        pipeline.stats().recordsWritten + pipeline.stats().recordsStale + pipeline.stats().deadLettered >= produced && pipeline.stats().inFlight.records === 0,
      120_000,
    );
    const elapsed = (Date.now() - started) / 1000;

    const epochMs = isSqlite(db) ? 'ROUND((julianday(updated_at) - 2440587.5) * 86400000)' : 'UNIX_TIMESTAMP(updated_at) * 1000';
    const rows = await knex(table).select<{ doc_id: bigint | string; title: string; t: number | string }[]>('doc_id', 'title', knex.raw(`${epochMs} AS t`));
    const stale = rows.filter((r) => latestTitle.get(String(r.doc_id)) !== r.title).length;
    const latencies = rows
      .map((r) => Number(r.t) - (sentAt.get(String(r.doc_id)) ?? NaN))
      .filter((l) => Number.isFinite(l))
      .sort((a, b) => a - b);
    const check = await verifyTopic(topic, table, { kafkaBrokers, db });
    const stats = pipeline.stats();
    console.log('');
    console.table({
      'documents produced': produced,
      'documents/s (produce to last row)': Math.round((produced - bad) / elapsed),
      database: isSqlite(db) ? 'embedded SQLite' : `MySQL at ${connection.db.host}:${connection.db.port}`,
      'rows in the table': rows.length,
      'documents sent twice (two versions)': produced - bad - rows.length,
      'rows not at their latest version': stale,
      'dead letters (deliberately bad records)': stats.deadLettered,
      'p50 produce-to-row latency (ms)': Math.round(percentile(latencies, 50)),
      'p99 produce-to-row latency (ms)': Math.round(percentile(latencies, 99)),
      'verify: missing from the table': check.missing.length,
      'verify: not in the topic': check.extra.length,
    });
    const ok = check.missing.length === 0 && check.extra.length === 0 && stale === 0 && stats.deadLettered === bad;
    say(ok ? 'every document landed once, at its latest version; every bad record is in the dead-letter topic' : 'MISMATCH: see the table above');
    return ok ? 0 : 1;
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
  }
};

const waitUntil = async (check: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`the pipeline did not finish within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
