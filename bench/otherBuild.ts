/**
 * docpipe's default chain from another build of docpipe, beside this one in the same
 * alternating rounds: what a change costs or gains, measured where both meet the same machine
 * state and the same raw pipe (two separate runs drift more than most changes weigh).
 *
 * The other build is a compiled checkout (`npm ci && npm run build`) named by
 * `DOCPIPE_BENCH_OTHER_BUILD`, its `dist` directory; it writes a table its own migrations make.
 *
 *   git worktree add /tmp/before <rev> && (cd /tmp/before && npm ci && npm run build)
 *   DOCPIPE_BENCH_OTHER_BUILD=/tmp/before/dist node dist/bench/run.js --profile ci --only rawPipe,docpipe,docpipeOther
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import type { DbConnection } from '../sinks/database.js';
import type { Contender, RunInput } from './contender.js';
import { DocpipeProcessContender } from './docpipeProcess.js';
import { Progress } from './progress.js';
import { uniqueName } from '../test/helpers/stack.js';

/** What this contender needs of the other build: the API every build since 0.1 has had. */
interface OtherPipeline {
  done: Promise<unknown>;
  stop(): Promise<unknown>;
}
interface OtherBuild {
  createPipeline(config: {
    kafka: { brokers: string; groupId: string; topics: string[] };
    db: DbConnection;
    table: string;
    onBatch: (r: { records: number; rejected: number }) => void;
  }): Promise<OtherPipeline>;
  migrateInputData(knex: Knex, table: string): Promise<unknown>;
}

const load = async (dist: string): Promise<OtherBuild> => {
  const at = (path: string) => pathToFileURL(resolve(dist, path)).href;
  const pipeline = (await import(at('pipeline/createPipeline.js'))) as Pick<OtherBuild, 'createPipeline'>;
  const table = (await import(at('sinks/inputDataTable.js'))) as Pick<OtherBuild, 'migrateInputData'>;
  return { createPipeline: pipeline.createPipeline, migrateInputData: table.migrateInputData };
};

/**
 * The contenders, when `DOCPIPE_BENCH_OTHER_BUILD` names a build; otherwise none: its default
 * chain in this process, and its docpipe command as shipped, a process a round (the CI gate's:
 * each round starts both builds afresh, so neither carries one run's JIT and heap luck through
 * all its rounds).
 */
export const otherBuild = (dist = process.env.DOCPIPE_BENCH_OTHER_BUILD): Contender[] => {
  if (dist === undefined || dist === '') return [];
  let build: Promise<OtherBuild> | undefined;
  const ownTable = async ({ ctx, table }: RunInput): Promise<OtherBuild> => {
    const other = await (build ??= load(dist));
    // The harness made the table with this build's migrations; the other build keeps its own list.
    await ctx.dropTable(table);
    await other.migrateInputData(ctx.knex, table);
    return other;
  };
  return [
    {
      id: 'docpipeOther',
      title: `docpipe, default chain, build at ${dist}`,
      configuration: 'the other build’s createPipeline defaults, into a table made by its own migrations',
      writes: true,
      async run(input) {
        const other = await ownTable(input);
        const { ctx, topic, table, total } = input;
        const progress = new Progress();
        const pipeline = await other.createPipeline({
          kafka: { brokers: ctx.brokers, groupId: uniqueName('bench_other'), topics: [topic] },
          db: ctx.db,
          table,
          onBatch: (r) => progress.add(r.records - r.rejected),
        });
        try {
          await Promise.race([progress.reached(total, this.title), pipeline.done.then(() => Promise.reject(new Error(`${this.title} stopped early`)))]);
        } finally {
          await pipeline.stop();
        }
        return progress.result();
      },
    },
    new DocpipeProcessContender(
      'docpipeOtherProcess',
      `docpipe process, as shipped, build at ${dist}`,
      'the other build’s bin/docpipe run with its default settings, a process a round, into a table made by its own migrations',
      {},
      resolve(dist, '../bin/docpipe'),
      async (input) => void (await ownTable(input)),
    ),
  ];
};
