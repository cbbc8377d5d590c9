// Metrics and health endpoints of a running `docpipe run`, and the readiness rule.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readiness } from '../pipeline/cli/operationsServer.js';
import type { PipelineStats } from '../pipeline/createPipeline.js';
import { createTopic, freshDatabase, produce, uniqueName } from './helpers/stack.js';
import { cliEntry, tsLoader } from './helpers/cli.js';
import { waitFor } from './helpers/wait.js';

const base: PipelineStats = {
  recordsIn: 0,
  recordsWritten: 0,
  recordsStale: 0,
  staleByTopic: new Map(),
  rowsWritten: 0,
  deadLettered: 0,
  batches: 0,
  inFlight: { records: 0, bytes: 0 },
  paused: false,
  assignedPartitions: 1,
  lag: [],
  lastCommitAt: 0,
  lastProgressAt: 0,
  stuck: [],
};

t.test('readiness: assigned and progressing, or idle without lag', async (t) => {
  const now = 1_000_000;
  t.same(readiness({ ...base, assignedPartitions: 0 }, now), { ready: false, reason: 'no partitions assigned' });
  t.equal(readiness({ ...base, lastProgressAt: 0 }, now).ready, true, 'idle with no lag is ready');
  const lagging = { ...base, lag: [{ topic: 't', partition: 0, lag: 50 }] };
  t.equal(readiness({ ...lagging, lastProgressAt: now - 5_000 }, now).ready, true, 'lag but progress');
  t.match(readiness({ ...lagging, lastProgressAt: now - 120_000 }, now), { ready: false, reason: /no batch written for 120 s with 50 records of lag/ });
  const stuck = { topic: 't', partition: 2, offset: 41, outstanding: 10_000, held: true };
  t.equal(readiness({ ...lagging, lastProgressAt: now, stuck: [{ ...stuck, seconds: 5 }] }, now).ready, true, 'a record a few seconds old is not stuck');
  t.match(
    readiness({ ...lagging, lastProgressAt: now, stuck: [{ ...stuck, seconds: 75 }] }, now),
    { ready: false, reason: 'stuck: t[2]@41 not done for 75 s, 10000 records behind it, partition paused' },
    'a stuck record is named, even while other partitions make progress',
  );
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

t.test('a running docpipe serves /metrics, /healthz and /readyz', async (t) => {
  const topic = await createTopic(t, 'metrics', 2);
  const { name } = await freshDatabase(t);
  await produce(topic, [
    ...Array.from({ length: 500 }, (_, i) => ({ key: String(i), value: JSON.stringify({ doc_id: i, title: 't', body: 'b' }) })),
    { key: 'bad', value: 'not json' },
  ]);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', tsLoader, cliEntry, 'run', '--topics', topic, '--group-id', uniqueName('g'), '--db-name', name, '--metrics-port', String(port)],
    {
      env: { ...process.env, DOCPIPE_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.teardown(() => child.kill('SIGKILL'));
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
  await waitFor(
    () =>
      get('/healthz')
        .then((r) => r.status === 200)
        .catch(() => false),
    'the health endpoint',
  );
  const metrics = await waitFor(async () => {
    const m = await get('/metrics');
    return /docpipe_records_written_total 500\b/.test(m.body) && /docpipe_records_dead_lettered_total 1\b/.test(m.body) && m.body;
  }, 'the metrics to count every record');
  t.match(metrics, /docpipe_records_in_total 501\b/);
  t.match(metrics, /docpipe_batch_write_seconds_count [1-9]/);
  t.match(metrics, /docpipe_paused 0\b/);
  t.match(metrics, /docpipe_assigned_partitions 2\b/);
  // The dead letter is counted when sent and leaves the in-flight count when Kafka acknowledges it.
  await waitFor(async () => /docpipe_inflight_records 0\b/.test((await get('/metrics')).body), 'nothing in flight');
  await waitFor(async () => /docpipe_consumer_lag\{topic="[^"]+",partition="0"\} 0\b/.test((await get('/metrics')).body), 'consumer lag per partition', 30_000);
  await waitFor(async () => /docpipe_seconds_since_last_commit \d/.test((await get('/metrics')).body), 'a commit to be recorded');
  const ready = await get('/readyz');
  t.equal(ready.status, 200, ready.body);
  t.equal((await get('/nope')).status, 404);
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
