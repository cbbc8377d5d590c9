// docpipe against a broker that demands SASL/SCRAM: produce, run and verify authenticate with
// the credentials given as librdkafka settings, the password never shows in any output (not
// even in librdkafka's own debug log), hostile strings land verbatim, and a wrong password is
// reported as such within seconds. The broker is a private one this test starts and stops.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Kafka from '@confluentinc/kafka-javascript';
import { freshDatabase, uniqueName } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';
import { cliEntry, docpipe, tsLoader } from './helpers/cli.js';

const run = promisify(execFile);
const kafkaSh = resolve(import.meta.dirname, 'stack/kafka.sh');

// Ports of their own, clear of the shared broker and of other tests' private ones.
const PLAIN = 19692;
const SASL = 19694;
const password = `Scram-${randomBytes(8).toString('hex')}`;
const saslSettings = (pw: string) => ({
  'security.protocol': 'sasl_plaintext',
  'sasl.mechanisms': 'SCRAM-SHA-256',
  'sasl.username': 'docpipe',
  'sasl.password': pw,
});

t.test('SASL/SCRAM: credentials from settings, the password in no output, hostile strings verbatim', async (t) => {
  const dir = t.testdir();
  const env = {
    ...process.env,
    DOCPIPE_STACK_DIR: join(dir, 'stack'),
    DOCPIPE_KAFKA_PORT: String(PLAIN),
    DOCPIPE_KAFKA_CLUSTER_PORT: '19792',
    // The plaintext listener stays for the broker's own readiness check; docpipe only ever
    // talks to the SASL one.
    DOCPIPE_KAFKA_SERVER_PROPS: [
      `listeners=PLAINTEXT://127.0.0.1:${PLAIN},CONTROLLER://127.0.0.1:${PLAIN + 1},SASL_PLAINTEXT://127.0.0.1:${SASL}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${PLAIN},SASL_PLAINTEXT://127.0.0.1:${SASL}`,
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms=SCRAM-SHA-256',
      'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    ].join('\n'),
    DOCPIPE_KAFKA_FORMAT_ARGS: `--add-scram\nSCRAM-SHA-256=[name=docpipe,password=${password}]`,
  };
  t.teardown(() => run('bash', [kafkaSh, 'down', '--nodes', '1'], { env }).catch(() => {}));
  await run('bash', [kafkaSh, 'up'], { env, timeout: 150_000 });

  const brokers = `127.0.0.1:${SASL}`;
  const topic = uniqueName('sasl');
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, log_level: 0, ...saslSettings(password) } as Kafka.GlobalConfig);
  await new Promise<void>((ok, fail) => admin.createTopic({ topic, num_partitions: 2, replication_factor: 1 }, 30_000, (e) => (e ? fail(e) : ok())));
  admin.disconnect();

  const hostile = [
    "'); DROP TABLE input_data; --",
    '`input_data`; SELECT * FROM `mysql`.`user` -- \\ \\\\ %_',
    'NUL\u0000inside',
    '4-byte UTF-8 😀 𠜎 and Chinese 搜索引擎',
    '" quoted "" twice',
  ];
  const docs = hostile.map((text, i) => ({ doc_id: BigInt(i + 1) * 1_000_000_000_007n, title: text, body: `${text} | ${i}` }));
  const csvField = (s: string) => `"${s.replaceAll('"', '""')}"`;
  const csv = join(dir, 'hostile.csv');
  await writeFile(csv, `doc_id,title,body,url\r\n${docs.map((d) => [d.doc_id, csvField(d.title), csvField(d.body), ''].join(',')).join('\r\n')}\r\n`);

  const { name, knex } = await freshDatabase(t);
  const clientEnv = {
    DOCPIPE_KAFKA_BROKERS: brokers,
    DOCPIPE_DB_NAME: name,
    // librdkafka's debug log too: it must not carry the password either.
    DOCPIPE_RDKAFKA: JSON.stringify({ ...saslSettings(password), debug: 'security,broker,conf' }),
    DOCPIPE_LOG_LEVEL: 'debug',
  };
  const produced = await docpipe(['produce', '--csv', csv, '--topic', topic], clientEnv, 60_000);
  t.equal(produced.code, 0, produced.stderr);
  t.match(produced.stdout, new RegExp(`: ${docs.length} sent, 0 skipped, 0 not acknowledged`));

  const child = spawn(process.execPath, ['--import', tsLoader, cliEntry, 'run'], {
    env: { ...process.env, ...clientEnv, DOCPIPE_TOPICS: topic, DOCPIPE_GROUP_ID: uniqueName('sasl'), DOCPIPE_METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  t.teardown(() => void child.kill('SIGKILL'));

  const rows = await waitFor(
    async () => {
      const r = (await knex('input_data')
        .select('doc_id', 'title', 'body')
        .orderBy('doc_id')
        .catch(() => [])) as { doc_id: string; title: string; body: string }[];
      return r.length === docs.length && r;
    },
    'every document in the table',
    90_000,
  );
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'stops cleanly');
  t.same(
    rows,
    docs.map((d) => ({ doc_id: d.doc_id.toString(), title: d.title, body: d.body })),
    'every hostile string stored verbatim',
  );

  const verified = await docpipe(['verify', '--topic', topic], clientEnv, 60_000);
  t.equal(verified.code, 0, verified.stdout + verified.stderr);
  t.match(verified.stdout, /missing from the table: 0/);

  // The check below means something only if librdkafka really logged its SASL handshake.
  t.match(output, /SCRAM|SASL/, 'librdkafka debug output is in the log');
  for (const [what, text] of [
    ['run', output],
    ['produce', produced.stdout + produced.stderr],
    ['verify', verified.stdout + verified.stderr],
  ] as const) {
    t.notOk(text.includes(password), `the password is not in the output of ${what}`);
  }

  // The refusal is reported as soon as the broker refuses; the process then exits once
  // librdkafka's connect attempt (10 s) winds down.
  const started = Date.now();
  const wrong = spawn(process.execPath, ['--import', tsLoader, cliEntry, 'run'], {
    env: {
      ...process.env,
      ...clientEnv,
      DOCPIPE_RDKAFKA: JSON.stringify(saslSettings('not-the-password')),
      DOCPIPE_TOPICS: topic,
      DOCPIPE_LOG_LEVEL: 'warn',
      DOCPIPE_METRICS_PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => void wrong.kill('SIGKILL'));
  let stderr = '';
  let reportedAfter = NaN;
  wrong.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (Number.isNaN(reportedAfter) && stderr.includes('\n')) reportedAfter = Date.now() - started;
  });
  const code = await new Promise<number | null>((done) => wrong.on('exit', (c) => done(c)));
  t.equal(code, 1, 'a wrong password stops docpipe');
  t.match(
    stderr,
    /SASL authentication error: .*invalid credentials.*check sasl\.mechanisms, sasl\.username and sasl\.password/,
    'and says it is about the credentials',
  );
  t.ok(reportedAfter < 8_000, `reported after ${reportedAfter} ms`);
  t.notOk(stderr.includes('not-the-password'), 'not even the wrong password is shown');
});
