/**
 * Ceiling, sink side: plain knex multi-row INSERTs of the same rows into the same kind of
 * table, with no Kafka, no decoding and no upsert guard. Statement size (by bytes) and
 * statements in flight are swept once per scenario; later rounds repeat the best setting.
 */
import type { Knex } from 'knex';
import { makeDocuments, rowsPerStatement, toRow, type BenchRow } from './documents.js';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';

export interface SinkSetting {
  statementBytes: number;
  inFlight: number;
}

export interface SweepPoint extends SinkSetting {
  rowsPerStatement: number;
  rowsPerSecond: number;
}

const STATEMENT_BYTES = [1, 2, 4].map((mib) => mib * 1024 * 1024);
const IN_FLIGHT = [1, 2, 3];

/** Inserts every row with `inFlight` workers taking statements off one shared cursor. */
const insertAll = async (knex: Knex, table: string, rows: readonly BenchRow[], perStatement: number, inFlight: number): Promise<Throughput> => {
  const progress = new Progress();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const from = next;
      next += perStatement;
      if (from >= rows.length) return;
      const chunk = rows.slice(from, from + perStatement);
      await knex(table).insert(chunk);
      progress.add(chunk.length);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return progress.result();
};

const benchRows = (total: number, docBytes: number, partitions: number): BenchRow[] =>
  // Partition and offset as a round-robin producer would give them.
  makeDocuments(total, docBytes).map((d, i) => toRow(d, i % partitions, Math.floor(i / partitions)));

/**
 * The raw-sink ceiling for one scenario. The first run sweeps the settings, each into its own
 * table, and keeps the best; `sweep` holds every point.
 */
export class RawSink implements Contender {
  readonly id = 'rawSink';
  readonly title = 'ceiling: raw knex multi-row INSERT';
  readonly writes = true;
  best: SweepPoint | undefined;
  readonly sweep: SweepPoint[] = [];

  get configuration(): string {
    const b = this.best;
    return b
      ? `plain INSERT, ${b.rowsPerStatement} rows (~${b.statementBytes >> 20} MiB) a statement, ${b.inFlight} in flight (best of ${this.sweep.length} settings swept)`
      : 'plain INSERT, statement size and concurrency swept';
  }

  details(): { best: SweepPoint | undefined; sweep: SweepPoint[] } {
    return { best: this.best, sweep: this.sweep };
  }

  async run({ ctx, table, total, docBytes, partitions }: RunInput): Promise<Throughput> {
    const rows = benchRows(total, docBytes, partitions);
    if (!this.best) {
      for (const statementBytes of STATEMENT_BYTES) {
        for (const inFlight of IN_FLIGHT) {
          const perStatement = rowsPerStatement(statementBytes, docBytes);
          const sweepTable = await ctx.freshTable(`sweep_${statementBytes >> 20}m_${inFlight}`);
          const r = await insertAll(ctx.knex, sweepTable, rows, perStatement, inFlight);
          await ctx.verifyRows(sweepTable, total, this.title);
          await ctx.dropTable(sweepTable);
          this.sweep.push({ statementBytes, inFlight, rowsPerStatement: perStatement, rowsPerSecond: r.rowsPerSecond });
        }
      }
      this.best = this.sweep.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    }
    return insertAll(ctx.knex, table, rows, this.best.rowsPerStatement, this.best.inFlight);
  }
}
