/**
 * Reads documents from an RFC 4180 CSV file (csv-parse: quoted fields with commas, quotes and
 * newlines, a UTF-8 BOM, CRLF) and maps each row to a document through a column mapping.
 * Yields, per data row, either the document or the reason it cannot be mapped, with the row's
 * line number; a row is never sent half-parsed. Bytes that are not UTF-8 and an unterminated
 * quote end the file with a {@link CsvFileError}.
 *
 * @example
 * ```ts
 * import { DocumentProducer, readCsvDocuments } from 'docpipe';
 * const producer = await DocumentProducer.open({ brokers: '127.0.0.1:9092' });
 * for await (const row of readCsvDocuments('docs.csv', { docId: 'id', title: 'name', body: ['summary', 'text'] })) {
 *   if ('doc' in row) await producer.sendDocument('documents', row.doc);
 *   else console.error(`line ${row.line}: ${row.reason}`);
 * }
 * ```
 */
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { parse, CsvError } from 'csv-parse';
import { INT64_MAX, INT64_MIN } from '../core/documentSchema.js';

export interface ColumnMapping {
  docId: string;
  title: string;
  /** Columns joined into `body`, in this order. */
  body: readonly string[];
  bodySeparator: string;
  url?: string | undefined;
}

export const DEFAULT_MAPPING: ColumnMapping = { docId: 'doc_id', title: 'title', body: ['body'], bodySeparator: '\n', url: 'url' };

export interface CsvDocument {
  doc_id: bigint;
  title: string;
  body: string;
  url?: string;
}

export type CsvRow = { line: number; doc: CsvDocument } | { line: number; reason: string };

/** The file as a whole cannot be read: not UTF-8, an unterminated quote, a missing column. */
export class CsvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvFileError';
  }
}

const INTEGER = /^-?(?:0|[1-9]\d*)$/;

/** Decodes UTF-8 strictly across chunk boundaries, failing on the first bad byte. */
const strictUtf8 = (): Transform => {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        const text = decoder.decode(chunk, { stream: true });
        offset += chunk.length;
        done(null, text);
      } catch {
        done(new CsvFileError(`the file is not valid UTF-8 (bad bytes within bytes ${offset}-${offset + chunk.length})`));
      }
    },
    flush(done) {
      try {
        done(null, decoder.decode());
      } catch {
        done(new CsvFileError('the file ends in the middle of a UTF-8 character'));
      }
    },
  });
};

const mapRow = (record: Record<string, string>, m: ColumnMapping): CsvDocument | string => {
  const rawId = (record[m.docId] ?? '').trim();
  if (!INTEGER.test(rawId)) return `${m.docId} ${JSON.stringify(rawId)} is not an integer`;
  const docId = BigInt(rawId);
  if (docId < INT64_MIN || docId > INT64_MAX) return `${m.docId} ${rawId} is outside the signed 64-bit range`;
  const doc: CsvDocument = {
    doc_id: docId,
    title: record[m.title] ?? '',
    body: m.body.map((c) => record[c] ?? '').join(m.bodySeparator),
  };
  if (m.url !== undefined) {
    const url = record[m.url];
    if (url !== undefined && url !== '') {
      if ([...url].length > 256) return `${m.url} is longer than 256 characters`;
      doc.url = url;
    }
  }
  return doc;
};

export async function* readCsvDocuments(file: string, mapping: ColumnMapping = DEFAULT_MAPPING, onBytes?: (n: number) => void): AsyncGenerator<CsvRow> {
  const input = createReadStream(file);
  if (onBytes) input.on('data', (chunk) => onBytes(chunk.length));
  const skipped: CsvRow[] = [];
  const parser = parse({
    bom: true,
    columns: true,
    skip_empty_lines: true,
    // A ragged row is reported and skipped, not a reason to stop reading the file.
    skip_records_with_error: true,
    info: true,
  });
  let unterminated: CsvFileError | undefined;
  parser.on('skip', (err: CsvError & { lines?: number }) => {
    // An open quote swallows the rest of the file: that is no longer one bad row.
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      unterminated = new CsvFileError(`unterminated quoted field: ${err.message}`);
      return;
    }
    const counts = /columns length is (\d+), got (\d+)/.exec(err.message);
    const reason = counts ? `wrong number of fields: ${counts[2]}, the header has ${counts[1]}` : err.message;
    skipped.push({ line: err.lines ?? 0, reason });
  });
  const decoded = input.pipe(strictUtf8());
  decoded.on('error', (err) => parser.destroy(err));
  input.on('error', (err) => parser.destroy(err));
  decoded.pipe(parser);
  let checkedColumns = false;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      // The parser runs ahead of this loop: report skipped rows in file order.
      while (skipped.length && skipped[0]!.line < info.lines) yield skipped.shift()!;
      if (!checkedColumns) {
        const missing = [mapping.docId, mapping.title, ...mapping.body].filter((c) => !(c in record));
        if (missing.length)
          throw new CsvFileError(
            `the header has no column ${missing.map((c) => JSON.stringify(c)).join(', ')} (it has ${Object.keys(record)
              .map((c) => JSON.stringify(c))
              .join(', ')})`,
          );
        checkedColumns = true;
      }
      const mapped = mapRow(record, mapping);
      yield typeof mapped === 'string' ? { line: info.lines, reason: mapped } : { line: info.lines, doc: mapped };
    }
    while (skipped.length) yield skipped.shift()!;
    if (unterminated) throw unterminated;
  } catch (err) {
    if (err instanceof CsvFileError) throw err;
    if (err instanceof CsvError) throw new CsvFileError(err.message);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CsvFileError(`no such file: ${file}`);
    if (e.code === 'EACCES') throw new CsvFileError(`cannot read ${file}: permission denied`);
    if (e.code === 'EISDIR') throw new CsvFileError(`${file} is a directory`);
    throw err;
  }
}
