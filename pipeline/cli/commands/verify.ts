/**
 * `docpipe verify --topic T`: compares the documents in a topic with the rows in the table —
 * doc_ids missing from the table, doc_ids in the table that are not in the topic, counts.
 * Records that are not valid documents (by the default schema) belong in the dead-letter
 * topic and are only counted.
 * Exit 0 when nothing is missing, 1 otherwise.
 *
 * @example
 * ```sh
 * docpipe verify --topic documents --table input_data
 * ```
 */
import { connectionFromEnv } from '../runConfig.js';
import { openDatabase } from '../../../sinks/database.js';
import type { Database } from '../../../sinks/database.js';
import type { RdKafkaSettings } from '../../kafka/kafkaSource.js';
import { parseJsonExact } from '../../core/exactJson.js';
import { documentSchema } from '../../../operators/validate.js';
import { scanTopic } from '../../kafka/topicScan.js';
import { describeDbError } from '../../../sinks/mysqlErrors.js';

export interface VerifyResult {
  records: number;
  documents: number;
  notDocuments: number;
  rows: number;
  missing: string[];
  extra: string[];
}

export const verifyTopic = async (
  topic: string,
  table: string,
  connection: { kafkaBrokers: string; rdkafka?: RdKafkaSettings; db: Database } = connectionFromEnv(process.env),
): Promise<VerifyResult> => {
  const { kafkaBrokers, db, rdkafka = {} } = connection;
  const inTopic = new Set<string>();
  let records = 0;
  let notDocuments = 0;
  for await (const m of scanTopic(kafkaBrokers, topic, rdkafka)) {
    records++;
    try {
      // Only what the pipeline accepts is expected in the table; the rest is dead-lettered.
      const doc = documentSchema.safeParse(parseJsonExact(m.value?.toString('utf8') ?? '', ['doc_id']));
      if (doc.success) inTopic.add(doc.data.doc_id.toString());
      else notDocuments++;
    } catch {
      notDocuments++;
    }
  }
  const knex = openDatabase(db, 1);
  try {
    const rows = await knex(table).select<{ doc_id: string }[]>('doc_id');
    const inTable = new Set(rows.map((r) => String(r.doc_id)));
    return {
      records,
      documents: inTopic.size,
      notDocuments,
      rows: inTable.size,
      missing: [...inTopic].filter((id) => !inTable.has(id)),
      extra: [...inTable].filter((id) => !inTopic.has(id)),
    };
  } catch (err) {
    throw new Error(`cannot read \`${table}\`: ${describeDbError(err)}`, { cause: err });
  } finally {
    await knex.destroy();
  }
};

export const verifyCommand = async (options: { topic: string; table: string }): Promise<number> => {
  const r = await verifyTopic(options.topic, options.table);
  const sample = (ids: string[]) => (ids.length ? ` (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''})` : '');
  console.log(`topic ${options.topic}: ${r.records} records, ${r.documents} distinct doc_ids, ${r.notDocuments} not documents (see ${options.topic}.dlq)`);
  console.log(`table ${options.table}: ${r.rows} rows`);
  console.log(`missing from the table: ${r.missing.length}${sample(r.missing)}`);
  console.log(`in the table but not the topic: ${r.extra.length}${sample(r.extra)}`);
  return r.missing.length === 0 ? 0 : 1;
};
