/**
 * A docpipe chain composed by hand, from docpipe's public entry points only:
 *
 *   KafkaSource → decodeJson → validate (our schema) → mapRecords (our transformation)
 *     → filterRecords (drafts dropped) → encodeDocuments → batch → bulkInsert(SqlSink)
 *
 * with every refused record sent to the dead-letter topic (`<topic>.dlq`). It runs until
 * DOCPIPE_EXPECT_RECORDS records are done — written, filtered out or dead-lettered — or until
 * SIGINT/SIGTERM (when that is 0, the default), then stops cleanly and prints one line of JSON.
 *
 * Settings (environment, defaults for the local stack): DOCPIPE_KAFKA_BROKERS, DOCPIPE_TOPICS
 * (comma-separated), DOCPIPE_GROUP_ID, DOCPIPE_DB_HOST, DOCPIPE_DB_PORT, DOCPIPE_DB_USER,
 * DOCPIPE_DB_PASSWORD, DOCPIPE_DB_NAME, DOCPIPE_TABLE, DOCPIPE_EXPECT_RECORDS,
 * DOCPIPE_DRAIN_TIMEOUT_MS.
 */
import { z } from 'zod';
import { DEFAULT_BUDGET, documentSchema, InFlightBudget, KafkaSource, openDeadLetterWriter, type DeadLetter } from 'docpipe';
import { batch, bulkInsert, decodeJson, encodeDocuments, filterRecords, mapRecords, validate, type EncodedDocument } from 'docpipe/operators';
import { createKnex, INPUT_DATA, SqlSink, type DeadLetterWriter, type InputDataDocument } from 'docpipe/sinks';

const setting = (name: string, fallback: string): string => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
};

const wholeNumber = (name: string, fallback: number): number => {
  const raw = setting(name, String(fallback));
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${JSON.stringify(raw)}`);
  return n;
};

const settings = {
  brokers: setting('DOCPIPE_KAFKA_BROKERS', '127.0.0.1:9092'),
  topics: setting('DOCPIPE_TOPICS', 'documents')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== ''),
  groupId: setting('DOCPIPE_GROUP_ID', 'docpipe-custom-chain'),
  db: {
    host: setting('DOCPIPE_DB_HOST', '127.0.0.1'),
    port: wholeNumber('DOCPIPE_DB_PORT', 3306),
    user: setting('DOCPIPE_DB_USER', 'docpipe'),
    // An empty password is a password.
    password: process.env.DOCPIPE_DB_PASSWORD ?? 'docpipe',
    database: setting('DOCPIPE_DB_NAME', 'docpipe'),
  },
  table: setting('DOCPIPE_TABLE', 'input_data'),
  /** Records to see done before stopping; 0: run until SIGINT or SIGTERM. */
  expect: wholeNumber('DOCPIPE_EXPECT_RECORDS', 0),
  drainTimeoutMs: wholeNumber('DOCPIPE_DRAIN_TIMEOUT_MS', 30_000),
};

/**
 * Our documents: the upstream document, with what our producers add (a status and tags) and a
 * rule of our own (a title must say something). Anything else is dead-lettered by `validate`.
 */
const articleSchema = documentSchema.extend({
  title: z.string().refine((s) => s.trim() !== '', { message: 'must not be blank' }),
  status: z.enum(['published', 'draft']).default('published'),
  tags: z.array(z.string().min(1)).max(5).default([]),
});
type Article = z.infer<typeof articleSchema>;

/** Our transformation: a tidy title, a canonical url where none was given, the tags under the body. */
const tidy = (article: Article): Article => ({
  ...article,
  title: article.title.trim().replace(/\s+/g, ' '),
  url: article.url ?? `https://articles.example/${article.doc_id}`,
  body: article.tags.length > 0 ? `${article.body}\n\ntags: ${article.tags.join(', ')}` : article.body,
});

const started = Date.now();
const counts = { written: 0, rows: 0, filtered: 0, deadLettered: 0, batches: 0 };
/** Dead letters by `stage/errorClass`. */
const rejections: Record<string, number> = {};

const knex = createKnex(settings.db, 3);
let sink: SqlSink<InputDataDocument>;
let dlq: DeadLetterWriter;
try {
  sink = await SqlSink.open<InputDataDocument>(knex, { mapping: INPUT_DATA, table: settings.table }); // creates or upgrades the table
  dlq = await openDeadLetterWriter({ brokers: settings.brokers });
} catch (err) {
  await knex.destroy();
  throw err;
}
const source = new KafkaSource({
  brokers: settings.brokers,
  groupId: settings.groupId,
  topics: settings.topics,
  budget: new InFlightBudget(DEFAULT_BUDGET),
});

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  source.stop(); // the chain completes once the batches in flight are written
};
const stopWhenAllDone = (): void => {
  if (settings.expect > 0 && counts.written + counts.filtered + counts.deadLettered >= settings.expect) stop();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/** Counts every dead letter, whichever stage refused the record, then hands it to the writer. */
const deadLetter: DeadLetter = (record, rejection) => {
  counts.deadLettered++;
  const kind = `${rejection.stage}/${rejection.errorClass}`;
  rejections[kind] = (rejections[kind] ?? 0) + 1;
  dlq.send(record, rejection);
  stopWhenAllDone();
};

const chain = source.records().pipe(
  decodeJson({ deadLetter }),
  validate({ deadLetter, schema: articleSchema }),
  mapRecords(tidy, { deadLetter }),
  filterRecords((article: Article) => {
    if (article.status === 'published') return true;
    counts.filtered++;
    stopWhenAllDone();
    return false;
  }),
  encodeDocuments(),
  batch<EncodedDocument>({ maxRecords: 500, maxDelayMs: 50 }),
  bulkInsert(sink, { deadLetter, concurrency: 2 }),
);

let failure: unknown;
await new Promise<void>((resolve) =>
  chain.subscribe({
    next: (written) => {
      counts.batches++;
      counts.written += written.records - written.rejected;
      counts.rows += written.written;
      stopWhenAllDone();
    },
    error: (err: unknown) => {
      failure = err;
      resolve();
    },
    complete: resolve,
  }),
);

// Dead letters are done once Kafka acknowledges them; then every record handed out is done and
// its offset can be committed.
let drained = false;
if (failure === undefined) {
  const deadline = Date.now() + settings.drainTimeoutMs;
  drained = (await dlq.drain(settings.drainTimeoutMs)) && (await source.whenIdle(Math.max(0, deadline - Date.now())));
  await source.commit();
}
await source.close(); // commits what is done, leaves the group
await dlq.close();
await knex.destroy();

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));
console.log(
  JSON.stringify({
    expected: settings.expect,
    ...counts,
    rejections,
    drained,
    ms: Date.now() - started,
    ...(failure !== undefined && { error: describe(failure) }),
  }),
);
process.exitCode = failure === undefined && drained ? 0 : 1;
