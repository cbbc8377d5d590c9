/**
 * `docpipe verify --topic T`: compares the documents in a topic with the rows in the table,
 * judging versions as the sink does — the latest version of each doc_id by the version rule
 * (its Kafka position, or `--version-field`), and, with `--deletes`, a tombstone as a delete.
 * It reports doc_ids whose latest version is missing from the table, rows the topic does not
 * account for (or whose document the topic deleted), and rows not at their latest version.
 * Records that are not valid documents (by the default schema) belong in the dead-letter topic
 * and are only counted. Exit 0 when every latest version is in the table, 1 otherwise.
 *
 * @example
 * ```sh
 * docpipe verify --topic documents --table input_data --deletes
 * ```
 */
import type { Message } from '@confluentinc/kafka-javascript';
import { connectionFromEnv } from '../runConfig.js';
import { openDatabase } from '../../../sinks/database.js';
import type { Database } from '../../../sinks/database.js';
import type { RdKafkaSettings } from '../../kafka/kafkaSource.js';
import { parseJsonExact } from '../../core/exactJson.js';
import { documentSchema } from '../../../operators/validate.js';
import { parseVersion } from '../../core/documentVersion.js';
import { scanTopic } from '../../kafka/topicScan.js';
import { toHeaders } from '../../kafka/pollLoop.js';
import { describeDbError } from '../../../sinks/mysqlErrors.js';
import { isNewer, type RowVersion } from '../../../sinks/versionRule.js';
import { versionOrigin } from '../../../sinks/recordVersion.js';

export interface VerifyOptions {
  /** Tombstones delete documents, as with `docpipe run --deletes true`. */
  deletes?: boolean;
  /** The document field holding its own version, as with `docpipe run --version-field`. */
  versionField?: string | undefined;
}

export interface VerifyResult {
  records: number;
  /** Distinct doc_ids among the valid documents and deletes. */
  documents: number;
  notDocuments: number;
  /** Documents whose latest version is a delete. */
  deleted: number;
  /** Records that are older versions of a document the topic has a newer one of. */
  olderVersions: number;
  /** Live rows in the table. */
  rows: number;
  missing: string[];
  extra: string[];
  /** Live rows holding another version than the topic's latest. */
  outdated: string[];
}

interface StoredRow {
  doc_id: string | bigint;
  src_topic: string | null;
  src_partition: number | bigint;
  src_offset: number | bigint | string;
  doc_version: string | bigint | null;
}

interface Latest {
  version: RowVersion;
  deleted: boolean;
}

const versionOf = (m: Message, external: bigint | null): RowVersion => {
  const origin = versionOrigin(toHeaders(m.headers));
  return origin ? { ...origin, external } : { topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp ?? null, external };
};

/** The doc_id and version a record stands for, or undefined for one the pipeline dead-letters. */
const readRecord = (m: Message, options: VerifyOptions): { id: string; latest: Latest } | undefined => {
  const field = options.versionField;
  try {
    if (m.value === null || m.value === undefined) {
      if (!options.deletes) return undefined;
      const key = m.key?.toString() ?? '';
      if (!/^-?\d{1,19}$/.test(key)) return undefined;
      let external: bigint | null = null;
      if (field !== undefined) {
        const header = (m.headers ?? []).find((h) => field in h);
        if (!header) return undefined;
        external = parseVersion(String(header[field]), field);
      }
      return { id: BigInt(key).toString(), latest: { version: versionOf(m, external), deleted: true } };
    }
    const raw = parseJsonExact(m.value.toString('utf8'), field === undefined ? ['doc_id'] : ['doc_id', field]);
    // Only what the pipeline accepts is expected in the table; the rest is dead-lettered.
    const doc = documentSchema.safeParse(raw);
    if (!doc.success) return undefined;
    const external = field === undefined ? null : parseVersion(raw[field], field);
    return { id: doc.data.doc_id.toString(), latest: { version: versionOf(m, external), deleted: false } };
  } catch {
    return undefined;
  }
};

export const verifyTopic = async (
  topic: string,
  table: string,
  connection: { kafkaBrokers: string; rdkafka?: RdKafkaSettings; db: Database } = connectionFromEnv(process.env),
  options: VerifyOptions = {},
): Promise<VerifyResult> => {
  const { kafkaBrokers, db, rdkafka = {} } = connection;
  const rule = options.versionField === undefined ? 'position' : 'external';
  const latest = new Map<string, Latest>();
  let records = 0;
  let notDocuments = 0;
  let olderVersions = 0;
  for await (const m of scanTopic(kafkaBrokers, topic, rdkafka)) {
    records++;
    const r = readRecord(m, options);
    if (!r) {
      notDocuments++;
      continue;
    }
    const have = latest.get(r.id);
    if (have) olderVersions++;
    if (!have || isNewer(rule, r.latest.version, have.version)) latest.set(r.id, r.latest);
  }
  const knex = openDatabase(db, 1);
  try {
    const hasDeletes = await knex.schema.hasColumn(table, 'deleted_at');
    const query = knex(table).select('doc_id', 'src_topic', 'src_partition', 'src_offset', 'doc_version');
    // Deleted documents keep a marker row; only live rows count.
    const rows = (await (hasDeletes ? query.whereNull('deleted_at') : query)) as StoredRow[];
    const inTable = new Map(rows.map((r) => [String(r.doc_id), r]));
    const live = [...latest].filter(([, l]) => !l.deleted);
    const outdated = [...inTable].filter(([id, row]) => {
      const l = latest.get(id);
      if (!l || l.deleted) return false;
      if (rule === 'external') return row.doc_version === null || BigInt(row.doc_version) !== l.version.external;
      return (row.src_topic ?? topic) !== l.version.topic || Number(row.src_partition) !== l.version.partition || Number(row.src_offset) !== l.version.offset;
    });
    return {
      records,
      documents: latest.size,
      notDocuments,
      deleted: latest.size - live.length,
      olderVersions,
      rows: inTable.size,
      missing: live.map(([id]) => id).filter((id) => !inTable.has(id)),
      extra: [...inTable.keys()].filter((id) => latest.get(id)?.deleted !== false),
      outdated: outdated.map(([id]) => id),
    };
  } catch (err) {
    throw new Error(`cannot read \`${table}\`: ${describeDbError(err)}`, { cause: err });
  } finally {
    await knex.destroy();
  }
};

export const verifyCommand = async (options: { topic: string; table: string; deletes?: boolean; versionField?: string }): Promise<number> => {
  const r = await verifyTopic(options.topic, options.table, connectionFromEnv(process.env), {
    deletes: options.deletes ?? false,
    versionField: options.versionField || undefined,
  });
  const sample = (ids: string[]) => (ids.length ? ` (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''})` : '');
  console.log(
    `topic ${options.topic}: ${r.records} records, ${r.documents} distinct doc_ids (${r.deleted} deleted), ${r.olderVersions} older versions, ${r.notDocuments} not documents (see ${options.topic}.dlq)`,
  );
  console.log(`table ${options.table}: ${r.rows} rows`);
  console.log(`missing from the table: ${r.missing.length}${sample(r.missing)}`);
  console.log(`in the table but not the topic, or deleted there: ${r.extra.length}${sample(r.extra)}`);
  console.log(`not at their latest version: ${r.outdated.length}${sample(r.outdated)}`);
  return r.missing.length === 0 && r.outdated.length === 0 ? 0 : 1;
};
