/**
 * `docpipe produce --csv FILE --topic T`: sends the documents of a CSV file to a topic, keyed
 * by `doc_id`. Rows that cannot be mapped are reported with their line and skipped. A progress
 * bar with rate and ETA on a terminal, a log line every few seconds otherwise, a summary at
 * the end. Exit 0 when every row was sent, 1 when some were skipped or not acknowledged.
 *
 * @example
 * ```sh
 * docpipe produce --csv docs.csv --topic documents --doc-id id --title name --body summary,text
 * ```
 */
import { stat } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { connectionFromEnv } from '../runConfig.js';
import { DocumentProducer } from '../../kafka/documentProducer.js';
import { CsvFileError, readCsvDocuments, type ColumnMapping } from '../../documents/csvDocuments.js';

export interface ProduceOptions {
  csv: string;
  topic: string;
  docId: string;
  title: string;
  body: string;
  bodySeparator: string;
  url: string | false;
}

const LOG_EVERY_MS = 5000;

export const produceCommand = async (options: ProduceOptions): Promise<number> => {
  const mapping: ColumnMapping = {
    docId: options.docId,
    title: options.title,
    body: options.body
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean),
    bodySeparator: options.bodySeparator,
    url: options.url === false ? undefined : options.url,
  };
  let size: number;
  try {
    size = (await stat(options.csv)).size;
  } catch {
    console.error(`docpipe produce: cannot read ${options.csv}: no such file`);
    return 1;
  }
  const { kafkaBrokers, rdkafka } = connectionFromEnv(process.env);
  const producer = await DocumentProducer.open({ brokers: kafkaBrokers, rdkafka });
  const started = Date.now();
  let bytes = 0;
  let rows = 0;
  let sent = 0;
  let failed = 0;
  let skipped = 0;
  const seen = new Set<string>();
  let repeated = 0;
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: '{bar} {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted}', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(size, 0, { rows: 0, rate: 0 });
  let lastLog = Date.now();
  const progress = () => {
    const rate = Math.round(rows / Math.max(0.001, (Date.now() - started) / 1000));
    if (bar) bar.update(bytes, { rows, rate });
    else if (Date.now() - lastLog >= LOG_EVERY_MS) {
      lastLog = Date.now();
      console.error(`${rows} rows read (${Math.round((bytes / Math.max(1, size)) * 100)}%), ${sent} acknowledged, ${rate} rows/s`);
    }
  };
  const pending: Promise<void>[] = [];
  let fileError: CsvFileError | undefined;
  try {
    for await (const row of readCsvDocuments(options.csv, mapping, (n) => (bytes += n))) {
      rows++;
      if ('reason' in row) {
        skipped++;
        bar?.stop();
        console.error(`line ${row.line}: skipped: ${row.reason}`);
        bar?.start(size, bytes, { rows, rate: 0 });
        continue;
      }
      const id = row.doc.doc_id.toString();
      if (seen.has(id)) repeated++;
      else seen.add(id);
      await producer.ready();
      pending.push(
        producer.sendDocument(options.topic, row.doc).then(
          () => void sent++,
          (err: unknown) => {
            failed++;
            console.error(`line ${row.line}: not acknowledged: ${(err as Error).message}`);
          },
        ),
      );
      if (pending.length >= 10_000) {
        // Each send handles its own outcome; one promise for them all keeps the list short.
        const all = Promise.all(pending).then(() => {});
        pending.length = 0;
        pending.push(all);
      }
      progress();
    }
  } catch (err) {
    if (!(err instanceof CsvFileError)) throw err;
    fileError = err;
  }
  await Promise.all(pending);
  bar?.update(bytes, { rows, rate: Math.round(rows / Math.max(0.001, (Date.now() - started) / 1000)) });
  bar?.stop();
  await producer.close();
  if (fileError) console.error(`docpipe produce: ${options.csv}: ${fileError.message}`);
  console.log(
    `${options.csv} → ${options.topic}: ${sent} sent, ${skipped} skipped, ${failed} not acknowledged, ${repeated} repeated doc_ids, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return fileError || skipped || failed ? 1 : 0;
};
