/**
 * Ceiling: the fastest plain knex multi-row INSERT of the same rows into the same table,
 * sweeping statement size and statements in flight. No Kafka, no decoding, no upsert guard.
 */
import type { Knex } from 'knex';
import { migrateInputData } from '../sinks/inputDataTable.js';
import type { BenchDocument } from './documents.js';

export interface RawSinkResult {
  best: { rowsPerStatement: number; inFlight: number; rowsPerSecond: number };
  runs: { rowsPerStatement: number; inFlight: number; rowsPerSecond: number }[];
}

const insertAll = async (knex: Knex, table: string, docs: readonly BenchDocument[], size: number, inFlight: number): Promise<number> => {
  const rows = docs.map((d, i) => ({ doc_id: String(d.doc_id), title: d.title, body: d.body, url: d.url, src_partition: 0, src_offset: i }));
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const from = next;
      next += size;
      if (from >= rows.length) return;
      await knex(table).insert(rows.slice(from, from + size));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return rows.length / ((performance.now() - started) / 1000);
};

export const rawSink = async (knex: Knex, docs: readonly BenchDocument[]): Promise<RawSinkResult> => {
  const runs: RawSinkResult['runs'] = [];
  for (const rowsPerStatement of [1000, 2000, 4000]) {
    for (const inFlight of [1, 2, 3]) {
      const table = `raw_${rowsPerStatement}_${inFlight}`;
      await migrateInputData(knex, table);
      const rowsPerSecond = await insertAll(knex, table, docs, rowsPerStatement, inFlight);
      runs.push({ rowsPerStatement, inFlight, rowsPerSecond });
      await knex.schema.dropTable(table);
    }
  }
  const best = runs.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
  return { best, runs };
};
