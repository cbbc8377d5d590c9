/**
 * One throughput scenario: a topic of `documents` documents, drained by every contender in
 * alternating rounds (the order reversed every other round, since the database slows as its
 * buffer pool fills and would otherwise favour whoever goes first), each into a fresh table
 * whose row count is checked afterwards (on MariaDB, or on PostgreSQL for a contender that
 * writes there). The best round of each contender counts.
 *
 *   const result = await runThroughput(ctx, profiles.quick.throughput[0], [new RawSink()], 2, console.log);
 */
import type { BenchContext } from './context.js';
import type { Contender } from './contender.js';
import type { ThroughputScenario } from './profiles.js';
import type { Throughput } from './progress.js';
import type { TableStore } from './postgres.js';
import { peakRssBytes, resetPeakRss } from './peakRss.js';

export interface ContenderResult {
  id: string;
  title: string;
  configuration: string;
  /** Documents it was given (fewer than the scenario's when it is sampled). */
  documents: number;
  sampled: boolean;
  /** Where it wrote its rows. */
  database: 'mysql' | 'postgresql';
  /** Undefined when no round succeeded. */
  best: Throughput | undefined;
  rounds: number[];
  /** Largest peak resident set over its rounds (its own process's, or the benchmark's). */
  peakRssBytes?: number;
  /** For a contender in the benchmark's process: the largest rise of its peak over a round. */
  peakRssRiseBytes?: number;
  error?: string;
  /** Rounds that failed once and were run again (a crashed process, say). */
  retriedRounds?: number;
  details?: unknown;
}

export interface ThroughputResult extends ThroughputScenario {
  contenders: ContenderResult[];
}

export const runThroughput = async (
  ctx: BenchContext,
  scenario: ThroughputScenario,
  contenders: readonly Contender[],
  rounds: number,
  log: (line: string) => void,
): Promise<ThroughputResult> => {
  log(`${scenario.title}: producing ${scenario.documents.toLocaleString('en-US')} documents…`);
  const topic = await ctx.topicWithDocuments(`bench_${scenario.id.replace(/-/g, '_')}`, scenario.partitions, scenario.documents, scenario.docBytes);
  const runs = new Map<string, Throughput[]>(contenders.map((c) => [c.id, []]));
  const peaks = new Map<string, number>();
  /** In the benchmark's process: how far its peak rose above where the round started. */
  const rises = new Map<string, number>();
  /** Contenders that failed, and why; they are not run again. */
  const errors = new Map<string, string>();
  /** Rounds run again after a failure, per contender. */
  const retried = new Map<string, number>();
  /** One round of `c`; what went wrong, or undefined. */
  const runRound = async (c: Contender, round: number): Promise<string | undefined> => {
    const total = c.sample ? c.sample(scenario.documents) : scenario.documents;
    let store: TableStore = ctx;
    let table: string | undefined;
    try {
      // Inside the try: PostgreSQL being down must cost only its own contenders' figures.
      if (c.database === 'postgresql') store = await ctx.postgres();
      table = await store.freshTable(`${c.id}_${scenario.id}`);
      // No forced collection first: a full GC on request shrinks V8's heap limit to what is
      // live, and the next round then pays for several more mark-compacts than it would in a
      // process of its own (docpipe, which keeps more in flight, about 4% of its rate here).
      const before = resetPeakRss();
      const r = await c.run({ ctx, topic, partitions: scenario.partitions, total, docBytes: scenario.docBytes, table });
      const own = c.lastPeakRssBytes?.();
      const peak = own ?? peakRssBytes();
      if (peak !== undefined) peaks.set(c.id, Math.max(peak, peaks.get(c.id) ?? 0));
      if (own === undefined && peak !== undefined && before !== undefined) rises.set(c.id, Math.max(peak - before, rises.get(c.id) ?? 0));
      if (c.writes) await store.verifyRows(table, r.rows, c.title);
      if (r.rows < total) throw new Error(`${c.title} acknowledged ${r.rows} of ${total} documents`);
      runs.get(c.id)!.push(r);
      log(`  round ${round} ${c.title}: ${Math.round(r.rowsPerSecond).toLocaleString('en-US')} rows/s`);
      return undefined;
    } catch (err) {
      // Reported, not fatal: one broken contender should not cost the others' figures.
      return err instanceof Error ? err.message : String(err);
    } finally {
      if (table !== undefined) await store.dropTable(table);
    }
  };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? contenders : [...contenders].reverse();
    for (const c of order) {
      // A sampled contender is slow and its figure stable: one round is enough.
      if (c.sample && round > 1) continue;
      // A round that fails is run once more: a process that crashed costs that round, not the
      // contender's figures. Failing again is final.
      for (let attempt = 1; attempt <= 2 && !errors.has(c.id); attempt++) {
        const failure = await runRound(c, round);
        if (failure === undefined) break;
        if (attempt === 1) {
          retried.set(c.id, (retried.get(c.id) ?? 0) + 1);
          log(`  round ${round} ${c.title}: failed (${failure}); running the round again`);
        } else {
          errors.set(c.id, failure);
          log(`  round ${round} ${c.title}: FAILED: ${failure}`);
        }
      }
    }
  }
  return {
    ...scenario,
    contenders: contenders.map((c) => {
      const rs = runs.get(c.id)!;
      return {
        id: c.id,
        title: c.title,
        // Read after the runs: the raw sink's configuration names the setting its sweep chose.
        configuration: c.configuration,
        database: c.database ?? 'mysql',
        documents: c.sample ? c.sample(scenario.documents) : scenario.documents,
        sampled: c.sample !== undefined && c.sample(scenario.documents) < scenario.documents,
        best: rs.length > 0 ? rs.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a)) : undefined,
        rounds: rs.map((r) => Math.round(r.rowsPerSecond)),
        ...(peaks.has(c.id) && { peakRssBytes: peaks.get(c.id)! }),
        ...(rises.has(c.id) && { peakRssRiseBytes: rises.get(c.id)! }),
        ...(errors.has(c.id) && { error: errors.get(c.id)! }),
        ...(retried.has(c.id) && { retriedRounds: retried.get(c.id)! }),
        ...(c.details && { details: c.details() }),
      };
    }),
  };
};
