/**
 * Runs the benchmark scenarios side by side on the same broker and database and reports each
 * figure as a ratio to the ceiling measured in the same run (absolute times on shared machines
 * drift too much to mean anything alone).
 *
 *   npm run bench                          # 100,000 × 1 KB documents + the memory scenario
 *   node dist/bench/run.js --docs 20000 --no-rss
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpus, totalmem } from 'node:os';
import { map } from 'rxjs';
import knexFactory from 'knex';
import { createTopic, db, kafkaBrokers, produce, uniqueName } from '../test/helpers/stack.js';
import { withPayload, type Envelope } from '../pipeline/envelope.js';
import type { Document } from '../operators/validate.js';
import { makeDocuments, toMessages } from './documents.js';
import { rawSink } from './rawSink.js';
import { endToEnd, type EndToEndResult } from './endToEnd.js';
import { stalledSinkRss } from './stalledSinkRss.js';
import { migrateInputData } from '../sinks/inputDataTable.js';

const { values: args } = parseArgs({
  options: {
    docs: { type: 'string', default: '100000' },
    'rss-docs': { type: 'string', default: '1000000' },
    'rss-seconds': { type: 'string', default: '30' },
    'no-rss': { type: 'boolean', default: false },
    partitions: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
  },
});
const total = Number(args.docs);
const partitions = Number(args.partitions);
const cleanups: (() => unknown)[] = [];
const scope = { teardown: (fn: () => unknown) => cleanups.push(fn) };

const admin = knexFactory({ client: 'mysql2', connection: { ...db } });
const database = uniqueName(`${db.database}_bench`);
await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4', [database]);
cleanups.push(async () => {
  await admin.raw('DROP DATABASE IF EXISTS ??', [database]);
  await admin.destroy();
});
const knex = knexFactory({ client: 'mysql2', connection: { ...db, database, charset: 'utf8mb4' }, pool: { min: 0, max: 4 } });
cleanups.push(() => knex.destroy());

try {
  const docs = makeDocuments(total, 1024);
  console.log(`producing ${total} documents of ~1 KB to a ${partitions}-partition topic…`);
  const topic = await createTopic(scope, 'bench', partitions);
  await produce(topic, toMessages(docs));

  console.log('ceiling: raw knex multi-row insert…');
  const raw = await rawSink(knex, docs);

  const base = { brokers: kafkaBrokers, topics: [topic] };
  const pipelineDb = { ...db, database };
  // Alternating rounds, best of each: the database slows as its buffer pool fills, which
  // would otherwise favour whichever chain ran first.
  const userOperator = map((e: Envelope<Document>) => withPayload(e, { ...e.payload, title: e.payload.title.trim() }));
  const runChain = async (label: string, round: number, transform?: () => typeof userOperator) => {
    const table = `docs_${label}_${round}`;
    await migrateInputData(knex, table);
    console.log(`docpipe: ${label} chain, round ${round}…`);
    const r = await endToEnd(
      { kafka: { ...base, groupId: uniqueName('bench') }, db: pipelineDb, table, ...(transform && { transform }) },
      total,
    );
    await knex.schema.dropTable(table);
    return r;
  };
  const rounds = Number(args.rounds);
  const defaults: EndToEndResult[] = [];
  const customs: EndToEndResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    defaults.push(await runChain('default', round));
    customs.push(await runChain('custom', round, () => userOperator));
  }
  const best = (rs: EndToEndResult[]) => rs.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
  const defaultChain = best(defaults);
  const customChain = best(customs);

  let rss: { maxRssBytes: number; backlog: number; budgetBytes: number } | undefined;
  if (!args['no-rss']) {
    const backlog = Number(args['rss-docs']);
    console.log(`memory: producing a backlog of ${backlog} documents…`);
    const rssTopic = await createTopic(scope, 'benchrss', partitions);
    for (let i = 0; i < backlog; i += 100_000) await produce(rssTopic, toMessages(makeDocuments(Math.min(100_000, backlog - i), 1024, i)));
    await migrateInputData(knex, 'docs_stalled');
    const lock = await knex.client.acquireConnection();
    await new Promise<void>((ok, fail) => lock.query('LOCK TABLES docs_stalled WRITE', (e: Error | null) => (e ? fail(e) : ok())));
    const budgetBytes = 32 * 1024 * 1024;
    console.log(`memory: docpipe with the table locked for ${args['rss-seconds']} s…`);
    const { maxRssBytes } = await stalledSinkRss(
      { DOCPIPE_TOPICS: rssTopic, DOCPIPE_GROUP_ID: uniqueName('benchrss'), DOCPIPE_DB_NAME: database, DOCPIPE_TABLE: 'docs_stalled', DOCPIPE_MAX_INFLIGHT_BYTES: String(budgetBytes) },
      Number(args['rss-seconds']),
    );
    await new Promise<void>((ok) => lock.query('UNLOCK TABLES', () => ok()));
    await knex.client.releaseConnection(lock);
    rss = { maxRssBytes, backlog, budgetBytes };
  }

  const ceiling = raw.best.rowsPerSecond;
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    config: { documents: total, documentBytes: 1024, partitions },
    ceiling: raw,
    docpipe: { defaultChain, customChain, rounds: { default: defaults, custom: customs } },
    ratios: { defaultChain: defaultChain.rowsPerSecond / ceiling, customChain: customChain.rowsPerSecond / ceiling },
    rss,
  };
  const dir = resolve(import.meta.dirname, '../../bench/results');
  await mkdir(dir, { recursive: true });
  const file = resolve(dir, `bench-${result.when.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(result, null, 2));

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`\n| scenario | rows/s | ratio to ceiling |\n| --- | ---: | ---: |`);
  console.log(`| raw knex insert, ${raw.best.rowsPerStatement} rows × ${raw.best.inFlight} in flight (ceiling) | ${fmt(ceiling)} | 1.00 |`);
  console.log(`| docpipe default chain | ${fmt(defaultChain.rowsPerSecond)} | ${result.ratios.defaultChain.toFixed(2)} |`);
  console.log(`| docpipe + one user operator | ${fmt(customChain.rowsPerSecond)} | ${result.ratios.customChain.toFixed(2)} |`);
  if (rss) console.log(`\nmax RSS with a stalled sink and ${fmt(rss.backlog)} documents of backlog: ${(rss.maxRssBytes / 1048576).toFixed(0)} MB (in-flight budget ${rss.budgetBytes / 1048576} MB)`);
  console.log(`\nraw sweep: ${raw.runs.map((r) => `${r.rowsPerStatement}×${r.inFlight}: ${fmt(r.rowsPerSecond)}`).join(', ')}`);
  console.log(`results: ${file}`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
