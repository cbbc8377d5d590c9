/**
 * Memory bound: `docpipe run` against a topic with a large backlog while another session
 * holds a write lock on its table, so nothing can be written for `stallSeconds`. The
 * process's RSS is sampled throughout; then the lock is released and both RSS and rows
 * written are sampled while it drains for `drainSeconds`, to show the memory bound holds
 * under full load too.
 */
import type { BenchContext } from './context.js';
import { startDocpipe } from './docpipeProcess.js';
import { uniqueName } from '../test/helpers/stack.js';
import { knexClient } from '../sinks/knexClient.js';

export interface StalledSinkSettings {
  backlog: number;
  docBytes: number;
  partitions: number;
  stallSeconds: number;
  drainSeconds: number;
  /** In-flight bytes budget given to docpipe (its default). */
  budgetBytes: number;
}

export interface StalledSinkResult extends StalledSinkSettings {
  maxRssBytes: number;
  maxRssStalledBytes: number;
  /** Rows written per second while draining, after the lock was released. */
  drainRowsPerSecond: number;
  /** [seconds since start, RSS bytes, rows written so far]. */
  samples: [number, number, number][];
}

const SAMPLE_MS = 250;

export const stalledSink = async (ctx: BenchContext, s: StalledSinkSettings): Promise<StalledSinkResult> => {
  const topic = await ctx.topicWithDocuments('bench_stalled', s.partitions, s.backlog, s.docBytes);
  const table = await ctx.freshTable('stalled');
  const lock = (await knexClient(ctx.knex).acquireConnection()) as { query: (sql: string, cb: (err: Error | null) => void) => void };
  const query = (sql: string) => new Promise<void>((ok, fail) => lock.query(sql, (e: Error | null) => (e ? fail(e) : ok())));
  await query(`LOCK TABLES \`${table}\` WRITE`);
  let locked = true;
  const docpipe = startDocpipe(ctx, {
    DOCPIPE_TOPICS: topic,
    DOCPIPE_GROUP_ID: uniqueName('bench_stalled'),
    DOCPIPE_TABLE: table,
    DOCPIPE_MAX_INFLIGHT_BYTES: String(s.budgetBytes),
  });
  // MAX(id), not COUNT(*): an index lookup rather than a scan of a growing table; ids are
  // consecutive here because every document is new.
  const rowsWritten = async (): Promise<number> => {
    if (locked) return 0;
    const [rows] = (await ctx.knex.raw('SELECT COALESCE(MAX(id), 0) AS n FROM ??', [table])) as [[{ n: number | string }]];
    return Number(rows[0].n);
  };
  const samples: StalledSinkResult['samples'] = [];
  const started = performance.now();
  const sampleUntil = async (seconds: number) => {
    const until = started + seconds * 1000;
    while (performance.now() < until) {
      if (docpipe.child.exitCode !== null) throw new Error(`docpipe exited early (code ${docpipe.child.exitCode})`);
      samples.push([(performance.now() - started) / 1000, await docpipe.rssBytes(), await rowsWritten()]);
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  };
  try {
    await sampleUntil(s.stallSeconds);
    await query('UNLOCK TABLES');
    locked = false;
    await sampleUntil(s.stallSeconds + s.drainSeconds);
  } finally {
    if (locked) await query('UNLOCK TABLES').catch(() => {});
    await knexClient(ctx.knex).releaseConnection(lock);
    await docpipe.stop();
    await ctx.dropTable(table);
  }
  const stalled = samples.filter(([t]) => t <= s.stallSeconds);
  const draining = samples.filter(([t, , rows]) => t > s.stallSeconds && rows > 0);
  const first = draining[0];
  const last = draining.at(-1);
  const drainRowsPerSecond = first && last && last[0] > first[0] ? (last[2] - first[2]) / (last[0] - first[0]) : 0;
  return {
    ...s,
    maxRssBytes: Math.max(...samples.map(([, rss]) => rss)),
    maxRssStalledBytes: Math.max(...stalled.map(([, rss]) => rss)),
    drainRowsPerSecond,
    samples,
  };
};
