/**
 * The `input_data` table as a mapping: docpipe's default. A document's `doc_id` is the key;
 * `title`, `body` and `url` its content; a new version resets `is_index` (the search engine
 * indexes it again) and sets `updated_at`. The table keeps its own migrations (see
 * inputDataTable.ts), which upgrade tables created before mappings existed.
 *
 * @example
 * ```ts
 * import { INPUT_DATA, SqlSink } from 'docpipe/sinks';
 * const sink = await SqlSink.open(knex, { mapping: INPUT_DATA, table: 'input_data' });
 * ```
 */
import type { Document } from '../pipeline/core/documentSchema.js';
import type { EncodedDocument } from '../pipeline/core/encodedDocument.js';
import type { TableMapping } from './tableMapping.js';
import { migrateInputData } from './inputDataTable.js';

/** What the default table is written from: a document, with its text as strings or UTF-8 bytes. */
export type InputDataDocument = Document | EncodedDocument;

export const INPUT_DATA: TableMapping<InputDataDocument> = {
  key: ['doc_id'],
  columns: {
    doc_id: { type: 'bigint' },
    title: { type: 'text' },
    body: { type: 'text' },
    url: { type: 'string', length: 256, optional: true },
  },
  stamps: { is_index: false, updated_at: 'now' },
  migrate: (knex, table) => migrateInputData(knex, table),
};
