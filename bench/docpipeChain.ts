/**
 * docpipe: the default chain (source → decode → validate → batch → guarded bulk upsert →
 * commit) with its default settings, and the same chain with one extra user operator (a
 * `map` that trims each title), to show what an operator costs: its own work, and decoding
 * on the main thread (a user's operator needs the documents as strings there). Runs in this process through
 * `createPipeline`, as a user embedding docpipe would. The default chain also runs into
 * PostgreSQL, to be set beside the raw PostgreSQL ceiling.
 *
 *   const rate = await docpipeDefault.run({ ctx, topic, partitions: 6, total: 30_000, docBytes: 1024, table });
 */
import { map } from 'rxjs';
import { createPipeline } from '../pipeline/createPipeline.js';
import { withPayload, type Envelope } from '../pipeline/core/envelope.js';
import type { Document } from '../operators/validate.js';
import type { Database } from '../sinks/database.js';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { uniqueName } from '../test/helpers/stack.js';

const trimTitle = () => map((e: Envelope<Document>) => withPayload(e, { ...e.payload, title: e.payload.title.trim() }));

const runDocpipe = async ({ ctx, topic, table, total }: RunInput, withOperator: boolean, who: string, db: Database = ctx.db): Promise<Throughput> => {
  const progress = new Progress();
  const pipeline = await createPipeline({
    kafka: { brokers: ctx.brokers, groupId: uniqueName('bench_docpipe'), topics: [topic] },
    db,
    table,
    onBatch: (r) => progress.add(r.records - r.rejected),
    ...(withOperator && { transform: trimTitle }),
  });
  try {
    await Promise.race([progress.reached(total, who), pipeline.done.then(() => Promise.reject(new Error(`${who} stopped early`)))]);
  } finally {
    await pipeline.stop();
  }
  return progress.result();
};

const DEFAULTS =
  'createPipeline defaults: decoding, validation and encoding on a worker thread, budget 5,000 records / 32 MiB, batches of 1,000 records / 4 MiB / 50 ms, 3 batches in flight, guarded upsert as a prepared statement';

export const docpipeDefault: Contender = {
  id: 'docpipe',
  title: 'docpipe, default chain',
  configuration: DEFAULTS,
  writes: true,
  run(input) {
    return runDocpipe(input, false, this.title);
  },
};

export const docpipeCustom: Contender = {
  id: 'docpipeCustom',
  title: 'docpipe + one user operator',
  configuration:
    "as the default chain, plus a user map() operator that trims each title; with an operator of the user's, decoding, validation and encoding run on the main thread",
  writes: true,
  run(input) {
    return runDocpipe(input, true, this.title);
  },
};

export const docpipePostgres: Contender = {
  id: 'docpipePostgres',
  title: 'docpipe, default chain, into PostgreSQL',
  configuration: `${DEFAULTS}; db { client: 'postgresql' }`,
  writes: true,
  database: 'postgresql',
  async run(input) {
    return runDocpipe(input, false, this.title, (await input.ctx.postgres()).db);
  },
};
