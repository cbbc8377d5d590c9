/**
 * Which of two versions of a document is the newer: the rule every sink applies in SQL (so
 * that concurrent batches and replays cannot go back) and in JavaScript (within a batch, and
 * to count what the database refused as stale). A Kafka offset is comparable only within one
 * partition of one incarnation of a topic, so a version is the position it came from together
 * with its timestamp — or, with a `versionField`, the document's own version alone.
 *
 * By position (the default), `incoming` replaces `stored` when:
 * 1. both come from the same topic and partition, and `incoming` has the higher offset, or the
 *    later timestamp (a topic deleted and re-created restarts its offsets at 0, but not its
 *    clock); the same offset and timestamp is a redelivery and changes nothing;
 * 2. they come from different topics or partitions, and `incoming` has the later timestamp;
 *    on the same millisecond the greater (topic, partition, offset) wins, so that every member
 *    and every replay picks the same one.
 * A stored row without a topic was written before rows kept theirs: it counts as the same
 * topic. A missing timestamp counts as older than any.
 *
 * By external version: `incoming` replaces `stored` only with a greater version, from any
 * topic, partition or order (like a search engine's external versioning). A row without one
 * was written before versions were kept, and any version replaces it.
 *
 * @example
 * ```ts
 * import { isNewer } from 'docpipe/sinks';
 * const stored = { topic: 'documents', partition: 0, offset: 41, timestamp: 1_700_000_000_000, external: null };
 * isNewer('position', { ...stored, offset: 40, timestamp: 1_700_000_500_000 }, stored); // true: the topic was re-created
 * isNewer('position', { ...stored, topic: 'documents-eu', offset: 3, timestamp: 1_699_000_000_000 }, stored); // false: older
 * ```
 */

/** Where a version came from, and its own version number when the documents carry one. */
export interface RowVersion {
  /** `null` for rows written before the topic was kept. */
  readonly topic: string | null;
  readonly partition: number;
  readonly offset: number;
  /** Kafka timestamp in ms since the epoch; `null` when unknown. */
  readonly timestamp: number | null;
  /** The document's own version (`versionField`), or `null`. */
  readonly external: bigint | null;
}

export type VersionRule = 'position' | 'external';

/** Compares positions with the same tie-break the SQL uses: topic, then partition, then offset. */
const positionAfter = (a: RowVersion, b: RowVersion): boolean => {
  const at = a.topic ?? '';
  const bt = b.topic ?? '';
  if (at !== bt) return at > bt;
  if (a.partition !== b.partition) return a.partition > b.partition;
  return a.offset > b.offset;
};

export const isNewer = (rule: VersionRule, incoming: RowVersion, stored: RowVersion): boolean => {
  if (rule === 'external') return stored.external === null || (incoming.external !== null && incoming.external > stored.external);
  const its = incoming.timestamp ?? -1;
  const sts = stored.timestamp ?? -1;
  const sameTopicPartition = (stored.topic === null || stored.topic === incoming.topic) && stored.partition === incoming.partition;
  if (sameTopicPartition) return incoming.offset > stored.offset || (stored.timestamp !== null && its > sts);
  return its > sts || (its === sts && positionAfter(incoming, stored));
};

/** Column names of the version a row keeps. */
export const VERSION_COLUMNS = {
  topic: 'src_topic',
  partition: 'src_partition',
  offset: 'src_offset',
  timestamp: 'src_ts',
  external: 'doc_version',
} as const;

/**
 * The rule as an SQL condition, true when the incoming row is newer than the stored one.
 * `incoming(c)` and `stored(c)` name column `c` of either row in the dialect's syntax
 * (`VALUES(c)` and `c` in MySQL, `excluded.c` and `t.c` in SQLite and PostgreSQL). Written
 * with `COALESCE` and row comparisons, which MySQL, MariaDB, PostgreSQL and SQLite all have.
 */
export const newerSql = (rule: VersionRule, incoming: (column: string) => string, stored: (column: string) => string): string => {
  const c = VERSION_COLUMNS;
  if (rule === 'external') return `(${stored(c.external)} IS NULL OR ${incoming(c.external)} > ${stored(c.external)})`;
  const its = `COALESCE(${incoming(c.timestamp)}, -1)`;
  const sts = `COALESCE(${stored(c.timestamp)}, -1)`;
  const sameTopicPartition = `((${stored(c.topic)} IS NULL OR ${stored(c.topic)} = ${incoming(c.topic)}) AND ${stored(c.partition)} = ${incoming(c.partition)})`;
  const sameTp = `(${incoming(c.offset)} > ${stored(c.offset)} OR (${stored(c.timestamp)} IS NOT NULL AND ${its} > ${sts}))`;
  const otherTp =
    `(${its} > ${sts} OR (${its} = ${sts} AND ` +
    `(${incoming(c.topic)}, ${incoming(c.partition)}, ${incoming(c.offset)}) > (COALESCE(${stored(c.topic)}, ''), ${stored(c.partition)}, ${stored(c.offset)})))`;
  return `(CASE WHEN ${sameTopicPartition} THEN ${sameTp} ELSE ${otherTp} END)`;
};
