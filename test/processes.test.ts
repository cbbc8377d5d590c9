// docpipe as the process users run: killed with SIGKILL and restarted, and two members of one
// group on a 6-partition topic with one stopped mid-run. Nothing lost, no duplicate rows.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createTopic, db, freshDatabase, produce, uniqueName } from './helpers/stack.js';
import { committedOffsets, highWatermarks } from './helpers/kafka.js';
import { waitFor } from './helpers/wait.js';
import type { Knex } from 'knex';

const root = resolve(import.meta.dirname, '..');
const tsLoader = resolve(root, 'node_modules/@tapjs/typescript/dist/esm/import.mjs');

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

const startDocpipe = (env: Record<string, string>): Running => {
  const child = spawn(process.execPath, ['--import', tsLoader, resolve(root, 'pipeline/cli/main.ts'), 'run'], {
    cwd: root,
    env: {
      ...process.env,
      DOCPIPE_LOG_LEVEL: 'warn',
      DOCPIPE_COMMIT_INTERVAL_MS: '200',
      DOCPIPE_METRICS_PORT: '0',
      // A killed member holds its partitions until its session times out: keep that short.
      DOCPIPE_RDKAFKA: JSON.stringify({ 'session.timeout.ms': 10000, 'heartbeat.interval.ms': 1000 }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, exited, output: () => output.slice(-4000) };
};

const rowCount = async (knex: Knex): Promise<number> => {
  try {
    const [[r]] = (await knex.raw('SELECT COUNT(*) AS n FROM input_data')) as [[{ n: string }]];
    return Number(r.n);
  } catch {
    return 0; // the table is not created yet
  }
};

const documents = (n: number, version = 1) =>
  Array.from({ length: n }, (_, i) => ({
    key: String(i),
    value: JSON.stringify({ doc_id: i, title: `v${version}`, body: 'x'.repeat(1000) }),
  }));

t.test('SIGKILL mid-run, then restart: nothing lost, no duplicate rows', async (t) => {
  const TOTAL = 40_000;
  const topic = await createTopic(t, 'sigkill', 3);
  const { name, knex } = await freshDatabase(t);
  await produce(topic, documents(TOTAL));
  const env = { DOCPIPE_TOPICS: topic, DOCPIPE_GROUP_ID: uniqueName('g'), DOCPIPE_DB_NAME: name, DOCPIPE_BATCH_RECORDS: '250' };

  const first = startDocpipe(env);
  t.teardown(() => first.child.kill('SIGKILL'));
  await waitFor(async () => (await rowCount(knex)) >= 3000, 'the first run to write some rows', 120_000);
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = await rowCount(knex);
  t.ok(atKill < TOTAL, `killed mid-run (${atKill} of ${TOTAL} rows written)`);

  const second = startDocpipe(env);
  t.teardown(() => second.child.kill('SIGKILL'));
  await waitFor(async () => (await rowCount(knex)) === TOTAL, `all ${TOTAL} rows after the restart`, 120_000);
  const [[stats]] = (await knex.raw('SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d, MIN(doc_id) AS lo, MAX(doc_id) AS hi FROM input_data')) as [
    [{ n: string; d: string; lo: string; hi: string }],
  ];
  t.same(stats, { n: String(TOTAL), d: String(TOTAL), lo: '0', hi: String(TOTAL - 1) }, 'every doc_id exactly once');

  const high = await highWatermarks(topic, 3);
  await waitFor(async () => JSON.stringify(await committedOffsets(env.DOCPIPE_GROUP_ID, topic, 3)) === JSON.stringify(high), 'commits to reach the end');
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0, `SIGTERM exits 0\n${second.output()}`);
});

t.test('two members on 6 partitions, one stopped mid-run: the other finishes, nothing lost', async (t) => {
  const TOTAL = 30_000;
  const topic = await createTopic(t, 'twomembers', 6);
  const { name, knex } = await freshDatabase(t);
  await produce(topic, documents(TOTAL));
  const env = { DOCPIPE_TOPICS: topic, DOCPIPE_GROUP_ID: uniqueName('g'), DOCPIPE_DB_NAME: name, DOCPIPE_BATCH_RECORDS: '250' };

  const a = startDocpipe(env);
  const b = startDocpipe(env);
  t.teardown(() => {
    a.child.kill('SIGKILL');
    b.child.kill('SIGKILL');
  });
  await waitFor(
    async () => {
      // A member that died at start would otherwise show up only as a timeout.
      if (a.child.exitCode !== null || b.child.exitCode !== null) throw new Error(`a member exited early:\n${a.output()}\n${b.output()}`);
      return (await rowCount(knex)) >= 3000;
    },
    'both members to start writing',
    120_000,
  );
  const atStop = await rowCount(knex);
  a.child.kill('SIGTERM');
  t.ok(atStop < TOTAL, `stopped mid-run (${atStop} of ${TOTAL} rows written)`);
  t.equal(await a.exited, 0, `the stopped member drains and exits 0\n${a.output()}`);

  await waitFor(async () => (await rowCount(knex)) === TOTAL, `all ${TOTAL} rows`, 120_000);
  const [[stats]] = (await knex.raw('SELECT COUNT(*) AS n, COUNT(DISTINCT doc_id) AS d FROM input_data')) as [[{ n: string; d: string }]];
  t.same(stats, { n: String(TOTAL), d: String(TOTAL) }, 'every doc_id exactly once');
  const high = await highWatermarks(topic, 6);
  await waitFor(
    async () => JSON.stringify(await committedOffsets(env.DOCPIPE_GROUP_ID, topic, 6)) === JSON.stringify(high),
    'all six partitions committed to the end',
  );
  b.child.kill('SIGTERM');
  t.equal(await b.exited, 0, `SIGTERM exits 0\n${b.output()}`);
});

t.test('docpipe run refuses bad configuration naming the key, and an unknown command', async (t) => {
  const bad = startDocpipe({ DOCPIPE_MAX_INFLIGHT_RECORDS: 'lots' });
  t.equal(await bad.exited, 2);
  t.match(bad.output(), /DOCPIPE_MAX_INFLIGHT_RECORDS must be a whole number greater than 0, got "lots"/);
  const unknown = spawn(process.execPath, ['--import', tsLoader, resolve(root, 'pipeline/cli/main.ts'), 'fly'], { cwd: root });
  let err = '';
  unknown.stderr.on('data', (d: Buffer) => (err += d.toString()));
  t.equal(await new Promise((done) => unknown.on('exit', done)), 2);
  t.match(err, /unknown command 'fly'/);
  void db;
});
