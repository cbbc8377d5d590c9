/**
 * Ceiling, sink side, on PostgreSQL: the raw sink's rows written with plain `pg` (a pool of
 * its own, no knex) as multi-row `INSERT … ON CONFLICT (doc_id) DO UPDATE` statements, with
 * no Kafka, no decoding and no version guard. Each row count is a named prepared statement,
 * parsed once a connection, with the values as parameters, as docpipe's PostgreSQL sink sends
 * them. Statement size and statements in flight are swept once per scenario, as the raw sink
 * sweeps them; later rounds repeat the best.
 *
 *   const sink = new RawPostgresSink();
 *   const rate = await sink.run({ ctx, topic, partitions: 6, total: 30_000, docBytes: 1024, table });
 *   console.log(rate.rowsPerSecond, sink.details().best);
 */
import pg from 'pg';
import type { Contender, RunInput } from './contender.js';
import type { PostgresConnection } from '../sinks/database.js';
import { rowsPerStatement, type BenchRow } from './documents.js';
import { Progress, type Throughput } from './progress.js';
import { benchRows, COLUMNS, IN_FLIGHT, type SweepPoint } from './rawSink.js';

/**
 * Smaller than the raw sink's 1-4 MiB: a first sweep over those peaked at 1 MiB, its smallest,
 * and a ceiling at the edge of its sweep may not be the ceiling.
 */
const STATEMENT_BYTES = [256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

const mib = (bytes: number) => `${bytes / 1048576} MiB`;

/** A statement takes at most 65,535 parameters, six a row. */
const MAX_ROWS = Math.floor(65_535 / COLUMNS.length);

const UPSERT_TAIL = ` ON CONFLICT (doc_id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'doc_id')
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ')}`;

const statementText = (table: string, rows: number): string => {
  const tuples = Array.from({ length: rows }, (_, r) => `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`);
  return `INSERT INTO "${table}" (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}${UPSERT_TAIL}`;
};

/** Inserts every row with `inFlight` connections taking statements off one shared cursor. */
const upsertAll = async (db: PostgresConnection, table: string, rows: readonly BenchRow[], perStatement: number, inFlight: number): Promise<Throughput> => {
  const { client: _client, ...connection } = db;
  const pool = new pg.Pool({ ...connection, max: inFlight });
  // The texts are built before the clock starts, as a long-running writer would have them.
  const texts = new Map<number, string>();
  for (const n of new Set([perStatement, rows.length % perStatement].filter((n) => n > 0))) texts.set(n, statementText(table, n));
  const progress = new Progress();
  let next = 0;
  const worker = async () => {
    const client = await pool.connect();
    try {
      for (;;) {
        const from = next;
        next += perStatement;
        if (from >= rows.length) return;
        const chunk = rows.slice(from, from + perStatement);
        const values = chunk.flatMap((r) => COLUMNS.map((c) => r[c]));
        // Named by row count alone: the pool is this table's, and a session keeps a statement parsed.
        await client.query({ name: `bench_upsert_${chunk.length}`, text: texts.get(chunk.length)!, values });
        progress.add(chunk.length);
      }
    } finally {
      client.release();
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    await pool.end();
  }
  return progress.result();
};

export class RawPostgresSink implements Contender {
  readonly id = 'rawPostgresSink';
  readonly title = 'ceiling: raw pg multi-row upsert into PostgreSQL';
  readonly writes = true;
  readonly database = 'postgresql';
  best: SweepPoint | undefined;
  readonly sweep: SweepPoint[] = [];

  get configuration(): string {
    const b = this.best;
    const what = 'plain pg, prepared INSERT … ON CONFLICT (doc_id) DO UPDATE, values as parameters';
    return b
      ? `${what}, ${b.rowsPerStatement} rows (~${mib(b.statementBytes)}) a statement, ${b.inFlight} in flight (best of ${this.sweep.length} settings swept)`
      : `${what}, statement size and concurrency swept`;
  }

  details(): { best: SweepPoint | undefined; sweep: SweepPoint[] } {
    return { best: this.best, sweep: this.sweep };
  }

  async run({ ctx, table, total, docBytes, partitions }: RunInput): Promise<Throughput> {
    const store = await ctx.postgres();
    const rows = benchRows(total, docBytes, partitions);
    if (!this.best) {
      for (const statementBytes of STATEMENT_BYTES) {
        for (const inFlight of IN_FLIGHT) {
          const perStatement = Math.min(rowsPerStatement(statementBytes, docBytes), MAX_ROWS);
          const sweepTable = await store.freshTable(`pg_sweep_${statementBytes >> 10}k_${inFlight}`);
          const r = await upsertAll(store.db, sweepTable, rows, perStatement, inFlight);
          await store.verifyRows(sweepTable, total, this.title);
          await store.dropTable(sweepTable);
          this.sweep.push({ statementBytes, inFlight, rowsPerStatement: perStatement, rowsPerSecond: r.rowsPerSecond });
        }
      }
      this.best = this.sweep.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    }
    return upsertAll(store.db, table, rows, this.best.rowsPerStatement, this.best.inFlight);
  }
}
