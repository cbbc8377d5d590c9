/**
 * Ceiling, sink side: plain knex multi-row INSERTs of the same rows into the same kind of
 * table, with no Kafka, no decoding and no upsert guard. Statement size (by bytes) and
 * statements in flight are swept once per scenario; later rounds repeat the best setting.
 *
 * A second instance, a diagnostic, does the same with mysql2's prepared statements (values as
 * binary parameters, as docpipe's sink sends them), so that the table shows what that protocol
 * alone is worth beside knex's SQL text.
 */
import type { Knex } from 'knex';
import { makeDocuments, rowsPerStatement, toRow, type BenchRow } from './documents.js';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { knexClient } from '../sinks/knexClient.js';

export interface SinkSetting {
  statementBytes: number;
  inFlight: number;
}

export interface SweepPoint extends SinkSetting {
  rowsPerStatement: number;
  rowsPerSecond: number;
}

/** The settings every raw-sink ceiling sweeps, on either database. */
export const STATEMENT_BYTES = [1, 2, 4].map((mib) => mib * 1024 * 1024);
export const IN_FLIGHT = [1, 2, 3];

export type Protocol = 'knex' | 'prepared';

type Insert = (chunk: readonly BenchRow[]) => Promise<void>;

/** A way to insert statements, and to give back what it holds. */
export interface Writer {
  insert: Insert;
  release: () => Promise<void>;
}

export const COLUMNS = ['doc_id', 'title', 'body', 'url', 'src_partition', 'src_offset'] as const;

/** The driver connection under knex's pool (mysql2). */
interface DriverConnection {
  execute(sql: string, values: unknown[], cb: (err: Error | null) => void): void;
}

/** A prepared multi-row INSERT on a connection of its own, one statement text per row count. */
const preparedInsert = async (knex: Knex, table: string): Promise<Writer> => {
  const conn = (await knexClient(knex).acquireConnection()) as DriverConnection;
  const texts = new Map<number, string>();
  const head = `INSERT INTO \`${table}\` (${COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES `;
  const insert: Insert = (chunk) => {
    let sql = texts.get(chunk.length);
    if (sql === undefined) texts.set(chunk.length, (sql = head + new Array<string>(chunk.length).fill('(?, ?, ?, ?, ?, ?)').join(', ')));
    const values = chunk.flatMap((r) => COLUMNS.map((c) => r[c]));
    return new Promise((resolve, reject) => conn.execute(sql, values, (err) => (err ? reject(err) : resolve())));
  };
  return { insert, release: () => knexClient(knex).releaseConnection(conn) };
};

/** A writer for `protocol`: prepared statements on a connection of its own, or knex's pool. */
export const openWriter = async (knex: Knex, protocol: Protocol, table: string): Promise<Writer> =>
  protocol === 'prepared' ? preparedInsert(knex, table) : { insert: async (chunk) => void (await knex(table).insert(chunk)), release: async () => {} };

/** Inserts every row with `inFlight` workers taking statements off one shared cursor. */
const insertAll = async (
  knex: Knex,
  protocol: Protocol,
  table: string,
  rows: readonly BenchRow[],
  perStatement: number,
  inFlight: number,
): Promise<Throughput> => {
  const progress = new Progress();
  let next = 0;
  const worker = async () => {
    const { insert, release } = await openWriter(knex, protocol, table);
    try {
      for (;;) {
        const from = next;
        next += perStatement;
        if (from >= rows.length) return;
        const chunk = rows.slice(from, from + perStatement);
        await insert(chunk);
        progress.add(chunk.length);
      }
    } finally {
      await release();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return progress.result();
};

export const benchRows = (total: number, docBytes: number, partitions: number): BenchRow[] =>
  // Partition and offset as a round-robin producer would give them.
  makeDocuments(total, docBytes).map((d, i) => toRow(d, i % partitions, Math.floor(i / partitions)));

/**
 * The raw-sink ceiling for one scenario. The first run sweeps the settings, each into its own
 * table, and keeps the best; `sweep` holds every point.
 */
export class RawSink implements Contender {
  readonly id: string;
  readonly title: string;
  readonly writes = true;
  best: SweepPoint | undefined;
  readonly sweep: SweepPoint[] = [];

  constructor(readonly protocol: Protocol = 'knex') {
    this.id = protocol === 'knex' ? 'rawSink' : 'rawSinkPrepared';
    this.title = protocol === 'knex' ? 'ceiling: raw knex multi-row INSERT' : 'diagnostic: raw mysql2 prepared multi-row INSERT';
  }

  get configuration(): string {
    const b = this.best;
    return b
      ? `plain INSERT${this.protocol === 'prepared' ? ', prepared, values as binary parameters' : ''}, ${b.rowsPerStatement} rows (~${b.statementBytes >> 20} MiB) a statement, ${b.inFlight} in flight (best of ${this.sweep.length} settings swept)`
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
          // A prepared statement takes at most 65,535 parameters, six a row.
          const perStatement = Math.min(rowsPerStatement(statementBytes, docBytes), this.protocol === 'prepared' ? 10_000 : Infinity);
          const sweepTable = await ctx.freshTable(`sweep_${statementBytes >> 20}m_${inFlight}`);
          const r = await insertAll(ctx.knex, this.protocol, sweepTable, rows, perStatement, inFlight);
          await ctx.verifyRows(sweepTable, total, this.title);
          await ctx.dropTable(sweepTable);
          this.sweep.push({ statementBytes, inFlight, rowsPerStatement: perStatement, rowsPerSecond: r.rowsPerSecond });
        }
      }
      this.best = this.sweep.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    }
    return insertAll(ctx.knex, this.protocol, table, rows, this.best.rowsPerStatement, this.best.inFlight);
  }
}
