// The docpipe command on the real stack: usage errors, migrate, produce from CSV, verify.
import t from 'tap';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createPipeline } from '../pipeline/createPipeline.js';
import { createTopic, db, freshDatabase, kafkaBrokers, uniqueName } from './helpers/stack.js';
import { readAll } from './helpers/kafka.js';
import { waitFor } from './helpers/wait.js';
import { docpipe } from './helpers/cli.js';

t.test('usage: help, unknown commands and flags, missing options', async (t) => {
  const help = await docpipe(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /run[\s\S]*migrate[\s\S]*produce[\s\S]*verify/);
  const produceHelp = await docpipe(['produce', '--help']);
  t.equal(produceHelp.code, 0);
  t.match(produceHelp.stdout, /--csv <file>/);
  const flag = await docpipe(['produce', '--csv', 'x.csv', '--topic', 't', '--nope']);
  t.equal(flag.code, 2);
  t.match(flag.stderr, /unknown option '--nope'/);
  const missing = await docpipe(['produce', '--topic', 't']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /required option '--csv <file>' not specified/);
});

t.test('migrate creates the table once and reports an unreachable database quickly', async (t) => {
  const { name, knex } = await freshDatabase(t);
  const first = await docpipe(['migrate'], { DOCPIPE_DB_NAME: name });
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /applied to `input_data`: 001_create_input_data/);
  t.ok(await knex.schema.hasTable('input_data'));
  const again = await docpipe(['migrate'], { DOCPIPE_DB_NAME: name });
  t.match(again.stdout, /`input_data` is up to date/);
  const down = await docpipe(['migrate'], { DOCPIPE_DB_NAME: name, DOCPIPE_DB_PORT: '1' });
  t.equal(down.code, 1);
  t.match(down.stderr, /ECONNREFUSED/);
  t.ok(down.ms < 15_000, `reported in ${down.ms} ms`);
});

t.test('produce sends a CSV keyed by doc_id, reports bad rows by line; verify compares topic and table', async (t) => {
  const dir = t.testdir({});
  const topic = await createTopic(t, 'csv', 3);
  const { name, knex } = await freshDatabase(t);
  const lines = ['doc_id,title,body,url'];
  for (let i = 1; i <= 100; i++) lines.push(`${i},"title, ${i}","body ""${i}""\nsecond line",https://x/${i}`);
  lines.push('7,"a newer title for 7",b,'); // a repeated doc_id
  lines.push('oops,bad id,b,');
  lines.push('8,ragged');
  const csv = join(dir, 'docs.csv');
  await writeFile(csv, lines.join('\r\n') + '\r\n');

  const r = await docpipe(['produce', '--csv', csv, '--topic', topic]);
  t.equal(r.code, 1, 'skipped rows make the exit code 1');
  t.match(r.stdout, /101 sent, 2 skipped, 0 not acknowledged, 1 repeated doc_ids/);
  t.match(r.stderr, /line \d+: skipped: doc_id "oops" is not an integer/);
  t.match(r.stderr, /line \d+: skipped: wrong number of fields: 2, the header has 4/);
  const messages = await readAll(topic, 101);
  t.equal(messages.length, 101);
  t.ok(
    messages.every((m) => (JSON.parse(String(m.value)) as { doc_id: number }).doc_id === Number(String(m.key))),
    'keyed by doc_id',
  );

  const pipeline = await createPipeline({ kafka: { brokers: kafkaBrokers, groupId: uniqueName('g'), topics: [topic] }, db: { ...db, database: name } });
  await waitFor(() => pipeline.stats().recordsWritten === 101, 'the pipeline to write everything');
  await pipeline.stop();
  t.same(await knex('input_data').where({ doc_id: '7' }).select('title'), [{ title: 'a newer title for 7' }], 'the later row wins');

  const ok = await docpipe(['verify', '--topic', topic], { DOCPIPE_DB_NAME: name });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /101 records, 100 distinct doc_ids \(0 deleted\), 1 older versions, 0 not documents/);
  t.match(ok.stdout, /not at their latest version: 0/);
  t.match(ok.stdout, /missing from the table: 0/);
  await knex('input_data').where({ doc_id: '42' }).delete();
  const bad = await docpipe(['verify', '--topic', topic], { DOCPIPE_DB_NAME: name });
  t.equal(bad.code, 1);
  t.match(bad.stdout, /missing from the table: 1 \(42\)/);
});

t.test('produce: missing file, bytes that are not UTF-8, unterminated quote, unreachable broker', async (t) => {
  const dir = t.testdir({
    'latin1.csv': Buffer.concat([Buffer.from('doc_id,title,body\n1,caf'), Buffer.from([0xe9]), Buffer.from(',b\n')]),
    'quote.csv': 'doc_id,title,body\n1,"never closed,b\n2,t,b\n',
    'ok.csv': 'doc_id,title,body\n1,t,b\n',
  });
  const missing = await docpipe(['produce', '--csv', join(dir, 'nope.csv'), '--topic', 'x']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read .*nope\.csv: no such file/);
  const topic = await createTopic(t, 'csvbad', 1);
  const latin1 = await docpipe(['produce', '--csv', join(dir, 'latin1.csv'), '--topic', topic, '--no-url']);
  t.equal(latin1.code, 1);
  t.match(latin1.stderr, /not valid UTF-8/);
  const quote = await docpipe(['produce', '--csv', join(dir, 'quote.csv'), '--topic', topic, '--no-url']);
  t.equal(quote.code, 1);
  t.match(quote.stderr, /unterminated quoted field/);
  const broker = await docpipe(['produce', '--csv', join(dir, 'ok.csv'), '--topic', topic, '--no-url'], { DOCPIPE_KAFKA_BROKERS: '127.0.0.1:1' });
  t.equal(broker.code, 1);
  t.match(broker.stderr, /cannot connect to Kafka at 127\.0\.0\.1:1/);
  t.ok(broker.ms < 20_000, `reported in ${broker.ms} ms`);
});

t.test('run: a bad config file or flag stops at once with the key named and exit 2', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'kafka:\n  grupId: x\n', 'port.yaml': 'db:\n  port: many\n' });
  const unknown = await docpipe(['run', '--config', join(dir, 'bad.yaml')]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown config key "kafka.grupId"/);
  const port = await docpipe(['run', '--config', join(dir, 'port.yaml')]);
  t.equal(port.code, 2);
  t.match(port.stderr, /config key "db.port" must be a TCP port number \(1-65535\), or 0 for the client's own, got "many"/);
  const flag = await docpipe(['run', '--sink-concurrency', 'lots']);
  t.equal(flag.code, 2);
  t.match(flag.stderr, /--sink-concurrency must be a whole number greater than 0, got "lots"/);
  const noFile = await docpipe(['run', '--config', join(dir, 'nope.yaml')]);
  t.equal(noFile.code, 2);
  t.match(noFile.stderr, /nope\.yaml \(no such file\)/);
});

t.test('run: an unreachable database or broker is reported within seconds, exit 1', async (t) => {
  const db1 = await docpipe(['run', '--db-port', '1']);
  t.equal(db1.code, 1);
  t.match(db1.stderr, /cannot use the database: .*ECONNREFUSED/);
  t.ok(db1.ms < 20_000, `database reported in ${db1.ms} ms`);
  const { name } = await freshDatabase(t);
  const k = await docpipe(['run', '--brokers', '127.0.0.1:1', '--db-name', name]);
  t.equal(k.code, 1);
  t.match(k.stderr, /cannot connect to Kafka at 127\.0\.0\.1:1/);
  t.ok(k.ms < 20_000, `broker reported in ${k.ms} ms`);
});

t.test('dlq replay sends dead letters back once the cause is fixed, and only once', async (t) => {
  const { readAll, headerValue } = await import('./helpers/kafka.js');
  const topic = await createTopic(t, 'replay', 1);
  const { name, knex } = await freshDatabase(t);
  const groupId = uniqueName('g');
  const cfg = { kafka: { brokers: kafkaBrokers, groupId, topics: [topic] }, db: { ...db, database: name } };
  const warm = await createPipeline(cfg); // creates the table
  await warm.stop();
  await knex.raw('ALTER TABLE input_data MODIFY title VARCHAR(10)'); // the "cause"
  const { produce } = await import('./helpers/stack.js');
  await produce(topic, [
    { key: '1', value: JSON.stringify({ doc_id: 1, title: 'short', body: 'b' }) },
    { key: '2', value: JSON.stringify({ doc_id: 2, title: 'a title longer than ten', body: 'b' }), headers: [{ 'trace-id': 'abc' }] },
  ]);
  const first = await createPipeline(cfg);
  await waitFor(
    () => first.stats().recordsWritten === 1 && first.stats().deadLettered === 1 && first.stats().inFlight.records === 0,
    'one row and one dead letter',
  );
  await first.stop();

  await knex.raw('ALTER TABLE input_data MODIFY title LONGTEXT'); // fixed
  const replay = await docpipe(['dlq', 'replay', '--topic', `${topic}.dlq`, '--rate', '50']);
  t.equal(replay.code, 0, replay.stderr);
  t.match(replay.stdout, /replayed 1 records/);
  const again = await docpipe(['dlq', 'replay', '--topic', `${topic}.dlq`]);
  t.match(again.stdout, /nothing to replay|replayed 0 records/, 'a second replay sends nothing');

  const all = await readAll(topic, 3);
  t.equal(all.length, 3, 'the original topic holds the replayed copy');
  const copy = all[2]!;
  t.equal(String(copy.key), '2');
  t.equal(headerValue(copy, 'trace-id'), 'abc', 'original headers kept');
  t.equal(headerValue(copy, 'docpipe.stage'), undefined, 'dead-letter headers dropped');

  const second = await createPipeline(cfg);
  t.teardown(() => second.stop());
  await waitFor(async () => (await knex('input_data').where({ doc_id: '2' })).length === 1, 'the replayed document to land');
  t.same(await knex('input_data').select('doc_id', 'title').orderBy('doc_id'), [
    { doc_id: '1', title: 'short' },
    { doc_id: '2', title: 'a title longer than ten' },
  ]);
  const bad = await docpipe(['dlq', 'replay', '--topic', `${topic}.dlq`, '--rate', 'fast']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--rate must be a number of records per second greater than 0, got "fast"/);
});

t.test('demo runs the main job end to end and cleans up after itself', async (t) => {
  const r = await docpipe(['demo', '--docs', '3000', '--rate', '3000'], {}, 180_000);
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.match(r.stdout, /documents produced\s*│\s*3000/);
  t.match(r.stdout, /dead letters \(deliberately bad records\)\s*│\s*6\b/);
  t.match(r.stdout, /verify: missing from the table\s*│\s*0\b/);
  t.match(r.stdout, /documents sent twice \(two versions\)\s*│\s*\d{2,}/);
  t.match(r.stdout, /rows not at their latest version\s*│\s*0\b/);
  t.match(r.stdout, /p99 produce-to-row latency \(ms\)\s*│\s*\d+/);
  t.match(r.stdout, /every document landed once/);
  const { knex } = await freshDatabase(t);
  const [tables] = (await knex.raw("SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'demo\\\\_%'", [
    db.database,
  ])) as [{ n: string }[]];
  t.same(tables, [], 'no demo table left behind');
});

t.test("demo with nothing but Node: librdkafka's mock cluster and, with no MySQL answering, an embedded SQLite file", async (t) => {
  // Port 1 stands in for a machine where no MySQL runs.
  const r = await docpipe(['demo', '--kafka', 'mock', '--docs', '2000', '--rate', '2000'], { DOCPIPE_DB_PORT: '1' }, 180_000);
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.match(r.stdout, /using librdkafka's in-process mock cluster at 127\.0\.0\.1:\d+/);
  const file = /no MySQL at 127\.0\.0\.1:1 \(.*ECONNREFUSED.*\): writing to an embedded SQLite database, (\S+)/.exec(r.stdout)?.[1];
  t.ok(file, 'says why and where it writes');
  t.match(r.stdout, /database\s*│\s*'embedded SQLite'/);
  t.match(r.stdout, /verify: missing from the table\s*│\s*0\b/);
  t.match(r.stdout, /rows not at their latest version\s*│\s*0\b/);
  t.match(r.stdout, /dead letters \(deliberately bad records\)\s*│\s*4\b/);
  t.match(r.stdout, /every document landed once/);
  t.notOk(file && existsSync(dirname(file)), 'the SQLite file is removed afterwards');
  const bad = await docpipe(['demo', '--kafka', 'somewhere']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--kafka must be auto, local or mock, got "somewhere"/);
  const badDb = await docpipe(['demo', '--db', 'postgres']);
  t.equal(badDb.code, 2);
  t.match(badDb.stderr, /--db must be auto, mysql or sqlite, got "postgres"/);
  const noMysql = await docpipe(['demo', '--db', 'mysql'], { DOCPIPE_DB_PORT: '1' });
  t.equal(noMysql.code, 1, 'MySQL asked for but not there');
  t.match(noMysql.stderr, /cannot use MySQL at 127\.0\.0\.1:1: .*ECONNREFUSED/);
});
