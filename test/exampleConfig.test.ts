// docpipe.example.yaml as it ships, run by the docpipe command into the local PostgreSQL: only
// the topic, the group and the database are the test's own (by their DOCPIPE_* variables, as
// a user overrides a file). Orders land in a table made from the mapping, a tombstone deletes
// one, and a document the mapping refuses goes to the dead-letter topic with its column named.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createTopic, produce, uniqueName } from './helpers/stack.js';
import { freshPostgresDatabase } from './helpers/postgres.js';
import { readAll, headerValue } from './helpers/kafka.js';
import { waitFor } from './helpers/wait.js';
import { cliEntry, docpipe, tsLoader } from './helpers/cli.js';

const example = resolve(import.meta.dirname, '../docpipe.example.yaml');

const order = (id: number, name: string, total: number) =>
  JSON.stringify({ id, customer: { name, email: `${name.toLowerCase()}@example.org` }, total, placed: '2026-12-01T09:00:00Z', lines: [{ sku: 'a', qty: 2 }] });

t.test('the example config moves orders into PostgreSQL as it is', async (t) => {
  const topic = await createTopic(t, 'orders', 2);
  const { name, knex } = await freshPostgresDatabase(t);
  const env = { DOCPIPE_TOPICS: topic, DOCPIPE_GROUP_ID: uniqueName('orders'), DOCPIPE_DB_NAME: name };

  const migrate = await docpipe(['migrate', '--config', example], env);
  t.equal(migrate.code, 0, migrate.stderr);
  t.match(migrate.stdout, /created orders from the mapping \(postgresql\)/);
  const again = await docpipe(['migrate', '--config', example], env);
  t.match(again.stdout, /orders fits the mapping/);

  const run = spawn(process.execPath, ['--import', tsLoader, cliEntry, 'run', '--config', example], {
    env: { ...process.env, DOCPIPE_LOG_LEVEL: 'warn', DOCPIPE_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  run.stdout.on('data', (b: Buffer) => (output += b.toString()));
  run.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = once(run, 'exit');
  t.teardown(() => {
    if (run.exitCode === null) run.kill('SIGKILL');
  });

  await produce(topic, [
    { key: '1', value: order(1, 'Ada', 12.5) },
    { key: '2', value: order(2, 'Grace', 40) },
    { key: '3', value: order(3, 'Edsger', 7) },
    { key: '1', value: order(1, 'Ada', 13.75) },
    { key: '4', value: JSON.stringify({ id: 4, customer: { name: 'Barbara' }, placed: '2026-12-01T09:00:00Z' }) },
  ]);
  await produce(topic, [{ key: '3', value: null }]);

  const rows = (await waitFor(
    async () => {
      const r = (await knex('orders').select('order_id', 'customer', 'total', 'deleted_at').orderBy('order_id')) as {
        order_id: string;
        customer: string | null;
        total: number | null;
        deleted_at: Date | null;
      }[];
      return r.length === 3 && r[2]!.deleted_at !== null && Number(r[0]!.total) === 13.75 ? r : undefined;
    },
    `the orders in the table (docpipe said: ${output})`,
    60_000,
  ))!;
  t.same(
    rows.map((r) => [r.order_id, r.customer, r.total === null ? null : Number(r.total), r.deleted_at !== null]),
    [
      ['1', 'Ada', 13.75, false],
      ['2', 'Grace', 40, false],
      ['3', null, null, true],
    ],
    'the latest version of each order; order 3 deleted',
  );
  const [dead] = await readAll(`${topic}.dlq`, 1);
  t.match(headerValue(dead!, 'docpipe.error.message'), /column total: the document has no value for it/);

  run.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.equal(code, 0, `stops cleanly (${output})`);
});

t.test('a mapping error in the config stops the start with its key named', async (t) => {
  const dir = t.testdir({
    'type.yaml': 'mapping:\n  key: [id]\n  columns:\n    id: { type: bigint }\n    total: { type: float }\n',
    'key.yaml': 'mapping:\n  key: [order]\n  columns:\n    id: bigint\n',
    'client.yaml': 'db:\n  client: oracle\n',
  });
  const type = await docpipe(['run', '--config', `${dir}/type.yaml`]);
  t.equal(type.code, 2);
  t.match(type.stderr, /config key "mapping.columns.total.type" must be one of string, text, integer, bigint, number, boolean, timestamp, json, got "float"/);
  const key = await docpipe(['run', '--config', `${dir}/key.yaml`]);
  t.equal(key.code, 2);
  t.match(key.stderr, /config key "mapping": key: "order" is not one of the columns \(id\)/);
  const client = await docpipe(['run', '--config', `${dir}/client.yaml`]);
  t.equal(client.code, 2);
  t.match(client.stderr, /config key "db.client" must be mysql, postgresql or sqlite, got "oracle"/);
});

t.test('migrate on PostgreSQL says what an existing table lacks', async (t) => {
  const { name, knex } = await freshPostgresDatabase(t);
  await knex.schema.createTable('orders', (tb) => {
    tb.bigInteger('order_id').primary();
    tb.string('customer');
  });
  const r = await docpipe(['migrate', '--config', example], { DOCPIPE_DB_NAME: name });
  t.equal(r.code, 1);
  t.match(r.stderr, /table orders does not fit the mapping: it has no columns email, total, placed_at, lines, deleted_at, src_topic/);
});
