/**
 * `docpipe run` as a child process, started by the docpipe command as it ships (bin/docpipe,
 * which gives Node the heap limits derived from the budget), for the scenarios that watch a
 * process from outside (its memory) or must not share an event loop with the producer (its
 * latency). Settings go in through DOCPIPE_* variables; stopping sends SIGTERM (a graceful
 * drain) and falls back to SIGKILL. The two contenders here drain the same backlog with the
 * memory bound as shipped and with it turned off, to show what the bound costs.
 *
 *   const docpipe = startDocpipe(ctx, { DOCPIPE_TOPICS: topic, DOCPIPE_TABLE: table });
 *   const rate = await docpipeShipped.run({ ctx, topic, partitions: 6, total: 200_000, docBytes: 1024, table });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { BenchContext } from './context.js';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { signalTree, treeRssMb } from '../test/helpers/processTree.js';
import { uniqueName } from '../test/helpers/stack.js';

const MB = 1024 * 1024;

export interface DocpipeProcess {
  readonly child: ChildProcess;
  /** Resident set size now, from /proc (0 once the process is gone). */
  rssBytes(): Promise<number>;
  /** The kernel's peak of the resident set so far (VmHWM), which no sampling interval misses. */
  peakRssBytes(): Promise<number>;
  stop(): Promise<void>;
}

/** The command, next to the built files it starts: dist/bench/ → bin/. */
const thisCommand = resolve(import.meta.dirname, '../../bin/docpipe');

export const startDocpipe = (ctx: BenchContext, settings: Record<string, string>, command = thisCommand): DocpipeProcess => {
  const env = {
    ...process.env,
    DOCPIPE_KAFKA_BROKERS: ctx.brokers,
    DOCPIPE_DB_HOST: ctx.db.host,
    DOCPIPE_DB_PORT: String(ctx.db.port),
    DOCPIPE_DB_USER: ctx.db.user,
    DOCPIPE_DB_PASSWORD: ctx.db.password,
    DOCPIPE_DB_NAME: ctx.db.database,
    DOCPIPE_LOG_LEVEL: 'warn',
    // No operations port: it could clash with a docpipe running beside the benchmark.
    DOCPIPE_METRICS_PORT: '0',
    ...settings,
  };
  const child = spawn(command, ['run'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  // The command's shell and Node, its child: the pipeline as a whole.
  const sizes = () => (child.exitCode !== null || child.pid === undefined ? { rss: 0, peak: 0 } : treeRssMb(child.pid));
  return {
    child,
    rssBytes: () => Promise.resolve(sizes().rss * MB),
    peakRssBytes: () => Promise.resolve(sizes().peak * MB),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => signalTree(child.pid!, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
};

/** Short enough that the rate's two ends are off by little against a run of several seconds. */
const POLL_MS = 25;

/**
 * One docpipe process draining the topic, its rows counted from the table (ids are consecutive,
 * every document being new); the process's peak RSS is kept for the report.
 */
export class DocpipeProcessContender implements Contender {
  readonly writes = true;
  private readonly peaks: number[] = [];

  /**
   * `command` is another build's bin/docpipe where it is not this one's; `prepare` readies the
   * round's table for it first (that build's own migrations).
   */
  constructor(
    readonly id: string,
    readonly title: string,
    readonly configuration: string,
    private readonly settings: Record<string, string>,
    private readonly command = thisCommand,
    private readonly prepare?: (input: RunInput) => Promise<void>,
  ) {}

  async run(input: RunInput): Promise<Throughput> {
    const { ctx, topic, table, total } = input;
    await this.prepare?.(input);
    const progress = new Progress();
    const docpipe = startDocpipe(
      ctx,
      { DOCPIPE_TOPICS: topic, DOCPIPE_GROUP_ID: uniqueName('bench_process'), DOCPIPE_TABLE: table, ...this.settings },
      this.command,
    );
    let seen = 0;
    let polling = true;
    const poll = async () => {
      while (polling) {
        if (docpipe.child.exitCode !== null) throw new Error(`${this.title} exited early (code ${docpipe.child.exitCode})`);
        const [rows] = (await ctx.knex.raw('SELECT COALESCE(MAX(id), 0) AS n FROM ??', [table])) as [[{ n: number | string }]];
        const n = Number(rows[0].n);
        if (n > seen) progress.add(n - seen);
        seen = n;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    const polled = poll();
    try {
      await Promise.race([progress.reached(total, this.title), polled]);
      this.peaks.push(await docpipe.peakRssBytes());
    } finally {
      polling = false;
      await polled.catch(() => {});
      await docpipe.stop();
    }
    return progress.result();
  }

  lastPeakRssBytes(): number | undefined {
    return this.peaks.at(-1);
  }

  details(): { peakRssBytes: number[] } {
    return { peakRssBytes: this.peaks };
  }
}

const PROCESS = 'docpipe run as a child process with its default settings, rows counted from the table every 25 ms';

export const docpipeShipped = new DocpipeProcessContender(
  'docpipeProcess',
  'docpipe process, as shipped',
  `${PROCESS}; started by bin/docpipe, with the heap limits it derives from the budget and MALLOC_ARENA_MAX=2`,
  {},
);

export const docpipeUnbounded = new DocpipeProcessContender(
  'docpipeProcessUnbounded',
  'docpipe process, memory bound off',
  `${PROCESS}; DOCPIPE_MEMORY_BOUND=off: V8's and glibc's own limits`,
  { DOCPIPE_MEMORY_BOUND: 'off' },
);
