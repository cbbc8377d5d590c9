/**
 * A document's own version (`versionField`) and the delete a tombstone asks for. A version is
 * an integer, or an RFC 3339 timestamp, which is kept as microseconds since the epoch: either
 * way a signed 64-bit integer that the table stores and compares. A field holds one kind or
 * the other: an integer and a timestamp do not compare meaningfully.
 *
 * @example
 * ```ts
 * import { parseVersion } from 'docpipe';
 * parseVersion(42n, 'version'); // 42n
 * parseVersion('2026-12-01T08:00:00.000001Z', 'updated'); // 1796112000000001n
 * ```
 */
import { RecordError } from './rejections.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A tombstone's meaning once decoded: the document of this key is deleted, as of `version`
 * when versions are external. The key is the record's Kafka key as text: a `doc_id`, or what
 * the sink's mapping makes of it.
 */
export interface Deletion {
  readonly key: string;
  readonly deleted: true;
  readonly version: bigint | null;
}

export const isDeletion = (payload: unknown): payload is Deletion =>
  typeof payload === 'object' && payload !== null && (payload as { deleted?: unknown }).deleted === true;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Microseconds since the epoch of an RFC 3339 timestamp, or undefined when it is not one. */
const timestampMicros = (text: string): bigint | undefined => {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', , sign, oh, om] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  // Date.UTC rolls over out-of-range fields (a 31st of February); a real timestamp round-trips.
  const back = new Date(ms);
  if (back.getUTCDate() !== Number(d) || back.getUTCHours() !== Number(h) || back.getUTCMonth() !== Number(mo) - 1) return undefined;
  const offsetMinutes = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  const micros = BigInt(fraction.padEnd(6, '0').slice(0, 6));
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1000n + micros;
};

/** The version a field's value stands for; a {@link RecordError} for a value that is none. */
export const parseVersion = (value: unknown, field: string, stage = 'validate'): bigint => {
  let version: bigint | undefined;
  if (typeof value === 'bigint') version = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) version = BigInt(value);
  else if (typeof value === 'string') version = /^-?\d{1,19}$/.test(value) ? BigInt(value) : timestampMicros(value);
  if (version === undefined) {
    const got = value === undefined ? 'nothing' : JSON.stringify(typeof value === 'bigint' ? value.toString() : value);
    throw new RecordError(stage, 'VersionError', `${field}: expected an integer or an RFC 3339 timestamp as the document's version, got ${got}`);
  }
  if (version < INT64_MIN || version > INT64_MAX) throw new RecordError(stage, 'VersionError', `${field}: version out of the signed 64-bit range`);
  return version;
};
