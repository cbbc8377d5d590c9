/**
 * Benchmark documents: the upstream shape (`doc_id`, `title`, `body`, `url`), each about
 * `bytes` bytes of JSON, with some multi-byte text so UTF-8 handling is exercised too.
 */
import type { OutMessage } from '../test/helpers/stack.js';

export interface BenchDocument {
  doc_id: number;
  title: string;
  body: string;
  url: string;
}

/** The row every contender writes for a document: the `input_data` columns it fills. */
export interface BenchRow {
  doc_id: string;
  title: string;
  body: string;
  url: string;
  src_partition: number;
  src_offset: number;
}

export const makeDocument = (id: number, bytes: number): BenchDocument => {
  const title = `document ${id}`;
  const url = `https://example.com/d/${id}`;
  // 60: the JSON keys, quotes and the url's share of a document, roughly.
  const body = filler(bytes).slice(0, Math.max(0, bytes - 60 - title.length - url.length));
  return { doc_id: id, title, body, url };
};

const fillers = new Map<number, string>();
const filler = (bytes: number): string => {
  let f = fillers.get(bytes);
  if (f === undefined) {
    f = 'lorem ipsum dolor sit amet, 中文 text 混合 '.repeat(Math.ceil(bytes / 40));
    fillers.set(bytes, f);
  }
  return f;
};

export const makeDocuments = (count: number, bytes: number, firstId = 0): BenchDocument[] =>
  Array.from({ length: count }, (_, i) => makeDocument(firstId + i, bytes));

export const toMessage = (d: BenchDocument): OutMessage => ({ key: String(d.doc_id), value: JSON.stringify(d) });

export const toMessages = (docs: readonly BenchDocument[]): OutMessage[] => docs.map(toMessage);

export const toRow = (d: BenchDocument, partition: number, offset: number): BenchRow => ({
  doc_id: String(d.doc_id),
  title: d.title,
  body: d.body,
  url: d.url,
  src_partition: partition,
  src_offset: offset,
});

/** Rows per multi-row INSERT for statements of about `statementBytes` (rows of `docBytes`). */
export const rowsPerStatement = (statementBytes: number, docBytes: number): number => Math.max(1, Math.floor(statementBytes / (docBytes + 100)));
