/**
 * The version a record carries into its row: its own Kafka position and timestamp, or — for a
 * dead letter replayed by `docpipe dlq replay` — the position and timestamp it first had,
 * which the replay passes on in `docpipe.version.*` headers. So a replayed old version is
 * judged as old, however late it comes back.
 *
 * @example
 * ```ts
 * import { recordVersion } from 'docpipe/sinks';
 * recordVersion(record, null); // { topic: 'documents', partition: 2, offset: 1041, timestamp: 1764633600000, external: null }
 * ```
 */
import type { Envelope, KafkaHeader } from '../pipeline/core/envelope.js';
import type { RowVersion } from './versionRule.js';

/** Headers that carry a record's first position through a dead-letter topic and back. */
export const VERSION_HEADERS = {
  topic: 'docpipe.version.topic',
  partition: 'docpipe.version.partition',
  offset: 'docpipe.version.offset',
  timestamp: 'docpipe.version.timestamp',
} as const;

const header = (headers: readonly KafkaHeader[], key: string): string | undefined => {
  for (const h of headers) if (h.key === key) return h.value.toString('utf8');
  return undefined;
};

const wholeNumber = (text: string | undefined): number | undefined => {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  return Number(text);
};

/** The first position a replayed record had, or undefined when it has none (or a malformed one). */
export const versionOrigin = (headers: readonly KafkaHeader[]): Omit<RowVersion, 'external'> | undefined => {
  const topic = header(headers, VERSION_HEADERS.topic);
  const partition = wholeNumber(header(headers, VERSION_HEADERS.partition));
  const offset = wholeNumber(header(headers, VERSION_HEADERS.offset));
  if (topic === undefined || topic === '' || partition === undefined || offset === undefined) return undefined;
  return { topic, partition, offset, timestamp: wholeNumber(header(headers, VERSION_HEADERS.timestamp)) ?? null };
};

export const recordVersion = (record: Envelope<unknown>, external: bigint | null): RowVersion => {
  // Most records have no headers at all: look no further then.
  const origin = record.headers.length > 0 ? versionOrigin(record.headers) : undefined;
  if (origin) return { ...origin, external };
  return { topic: record.topic, partition: record.partition, offset: record.offset, timestamp: record.timestamp ?? null, external };
};
