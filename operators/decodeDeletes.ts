/**
 * Turns tombstones (records without a value) into deletes: the record's key is the `doc_id`
 * (or, with `anyKey`, whatever key the sink's mapping reads from it), and with external versions (`versionField`) the header of that name carries the delete's
 * version, since a tombstone has no document to hold it. A tombstone whose key is not a 64-bit
 * integer, or that lacks the version header, goes to the dead-letter topic with the reason.
 *
 * @example
 * ```ts
 * import { filter, merge } from 'rxjs';
 * import { decodeDeletes } from 'docpipe/operators';
 * const deletes = records.pipe(filter((e) => e.value === null), decodeDeletes({ deadLetter }));
 * ```
 */
import type { OperatorFunction } from 'rxjs';
import type { Envelope } from '../pipeline/core/envelope.js';
import { RecordError, type DeadLetter } from '../pipeline/core/rejections.js';
import { parseVersion, type Deletion } from '../pipeline/core/documentVersion.js';
import { mapRecords } from './mapRecords.js';

export interface DecodeDeletesOptions {
  deadLetter: DeadLetter;
  /** The header that carries a delete's version, when documents carry their own. */
  versionField?: string | undefined;
  /** Take any non-empty key: the sink's mapping checks it (default false: the key must be a doc_id). */
  anyKey?: boolean;
}

const STAGE = 'delete';
const INT64 = /^-?\d{1,19}$/;

export const decodeDeletes = (options: DecodeDeletesOptions): OperatorFunction<Envelope<Buffer | null>, Envelope<Deletion>> =>
  mapRecords<Buffer | null, Deletion>((_value, record) => {
    const key = record.key?.toString('utf8');
    if (options.anyKey && (key === undefined || key === '')) {
      throw new RecordError(STAGE, 'TombstoneKeyError', 'a tombstone needs a key: the key of the row it deletes');
    } else if (!options.anyKey && (key === undefined || !INT64.test(key) || BigInt(key) !== BigInt.asIntN(64, BigInt(key)))) {
      throw new RecordError(STAGE, 'TombstoneKeyError', `a tombstone's key must be the doc_id, a signed 64-bit integer; got ${JSON.stringify(key ?? null)}`);
    }
    let version: bigint | null = null;
    if (options.versionField !== undefined) {
      const field = options.versionField;
      const header = record.headers.find((h) => h.key === field);
      if (!header) throw new RecordError(STAGE, 'VersionError', `a tombstone needs its version in a header named ${JSON.stringify(field)} (versionField)`);
      version = parseVersion(header.value.toString('utf8'), field, STAGE);
    }
    return { key: options.anyKey ? key! : BigInt(key!).toString(), deleted: true, version };
  }, options);
