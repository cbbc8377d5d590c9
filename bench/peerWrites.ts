/**
 * How the KafkaJS-style peers write a fetch batch: what a competent engineer writes with
 * knex for at-least-once delivery — one multi-row `INSERT … ON DUPLICATE KEY UPDATE` (a
 * redelivered batch then changes nothing instead of failing on the unique key), split into
 * statements of about 2 MiB like docpipe's, in one transaction when there is more than one.
 */
import type { Knex } from 'knex';
import type { BenchDocument, BenchRow } from './documents.js';
import { rowsPerStatement, toRow } from './documents.js';

const STATEMENT_BYTES = 2 * 1024 * 1024;

const upsert = (knex: Knex, table: string, rows: readonly BenchRow[]) =>
  knex(table).insert(rows).onConflict('doc_id').merge(['title', 'body', 'url', 'src_partition', 'src_offset']);

export const writeBatch = async (knex: Knex, table: string, rows: readonly BenchRow[], docBytes: number): Promise<void> => {
  const per = rowsPerStatement(STATEMENT_BYTES, docBytes);
  if (rows.length <= per) {
    await upsert(knex, table, rows);
    return;
  }
  await knex.transaction(async (trx) => {
    for (let i = 0; i < rows.length; i += per) await upsert(trx, table, rows.slice(i, i + per));
  });
};

/** A message's row; `JSON.parse` is what such a consumer uses (the bench's ids are small). */
export const rowOf = (value: Buffer, partition: number, offset: number): BenchRow =>
  toRow(JSON.parse(value.toString('utf8')) as BenchDocument, partition, offset);
