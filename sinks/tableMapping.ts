/**
 * How a document of yours becomes a row of your table: the key column(s), each column's type
 * and where its value comes from (a field, a dotted path, or a function of the document).
 * Compiled once into getters that check every value against its column's type, so that a
 * document missing a column, or holding a value the column cannot take, is refused with the
 * column named — a record error, dead-lettered — before any SQL is sent.
 *
 * Every table docpipe writes also keeps the version columns of the version rule
 * (`src_topic`, `src_partition`, `src_offset`, `src_ts`, `doc_version`) and `deleted_at`;
 * `docpipe migrate` creates them with the mapped columns.
 *
 * @example
 * ```ts
 * import { compileMapping, type TableMapping } from 'docpipe/sinks';
 * interface Order { id: number; customer: { name: string }; total: number }
 * const orders: TableMapping<Order> = {
 *   key: ['order_id'],
 *   columns: {
 *     order_id: { type: 'bigint', from: 'id' },
 *     customer: { type: 'string', from: 'customer.name', length: 200 },
 *     total: { type: 'number' },
 *   },
 * };
 * const compiled = compileMapping(orders);
 * compiled.values({ id: 7, customer: { name: 'Ada' }, total: 12.5 }); // ['7', 'Ada', 12.5]
 * ```
 */
import type { Knex } from 'knex';
import { RecordError } from '../pipeline/core/rejections.js';

/** What a column holds. `string` is a VARCHAR of `length` characters; `text` has no limit. */
export type ColumnType = 'string' | 'text' | 'integer' | 'bigint' | 'number' | 'boolean' | 'timestamp' | 'json';

export const COLUMN_TYPES: readonly ColumnType[] = ['string', 'text', 'integer', 'bigint', 'number', 'boolean', 'timestamp', 'json'];

/** Types a key column may have: compared exactly in JavaScript and SQL alike. */
export const KEY_TYPES: readonly ColumnType[] = ['string', 'integer', 'bigint'];

export interface ColumnDef<T> {
  type: ColumnType;
  /** A field of the document, a dotted path into it, or a function of it (default: the column's name). */
  from?: string | ((doc: T) => unknown);
  /** Missing or null values are stored as NULL instead of refusing the document (default false). */
  optional?: boolean;
  /** For `string`: the most characters the column holds (default 255). */
  length?: number;
}

/** A value set on every write, whatever the document: a constant, or `'now'`, the time of the write. */
export type Stamp = number | boolean | string;

export interface TableMapping<T> {
  /** The key column(s): the table's primary or unique key, which the upsert matches on. */
  key: readonly string[];
  columns: Readonly<Record<string, ColumnDef<T>>>;
  /**
   * `upsert` (default): a newer version replaces the row, by the version rule. `insert`: the
   * first version of a key stays; later ones are counted stale (an append-only table).
   */
  mode?: 'upsert' | 'insert';
  /** Columns set on every insert and every replacement (e.g. a flag reset, a write time). */
  stamps?: Readonly<Record<string, Stamp>>;
  /**
   * Creates or upgrades the table, instead of creating it from the mapping (the `input_data`
   * table has migrations of its own, older than mappings).
   */
  migrate?: (knex: Knex, table: string) => Promise<unknown>;
}

/** A value as it is bound, before the dialect's last conversion. */
export type BoundValue = string | number | boolean | Buffer | Date | null;

export interface CompiledColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly optional: boolean;
  readonly length: number;
  readonly isKey: boolean;
}

export interface CompiledMapping<T> {
  /** Mapped columns in table order: key columns first. */
  readonly columns: readonly CompiledColumn[];
  readonly key: readonly CompiledColumn[];
  readonly stamps: readonly { readonly name: string; readonly stamp: Stamp }[];
  readonly mode: 'upsert' | 'insert';
  readonly migrate: TableMapping<T>['migrate'];
  /**
   * The document's values, one per column, in `into` (from index 0) when given, so that a row
   * with columns of its own after these is allocated once; throws a {@link RecordError} naming
   * the column.
   */
  values(doc: T, into?: unknown[]): BoundValue[];
  /** The key values a tombstone's key stands for (the value itself, or a JSON object of the key fields). */
  keyValues(key: string): BoundValue[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const INT64 = /^-?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Bookkeeping columns every table has; a mapping may not use their names. */
export const RESERVED_COLUMNS = ['src_topic', 'src_partition', 'src_offset', 'src_ts', 'doc_version', 'deleted_at'] as const;

/** An error in a mapping itself: the start stops with it. */
export class MappingError extends Error {}

const describe = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  const json = JSON.stringify(value) ?? typeof value;
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
};

const refuse = (column: string, expected: string, value: unknown): never => {
  throw new RecordError('map', 'ColumnError', `column ${column}: expected ${expected}, got ${describe(value)}`);
};

/** Integer text that is canonical (no sign on zero, no leading zeros) and short enough to fit 64 bits. */
const SHORT_CANONICAL_INT = /^(?:0|-?[1-9]\d{0,17})$/;

const toBigintText = (column: string, value: unknown): string => {
  // The usual ids take no BigInt: a safe integer and 18 digits always fit 64 bits.
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && SHORT_CANONICAL_INT.test(value)) return value;
  let n: bigint | undefined;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && INT64.test(value)) n = BigInt(value);
  if (n === undefined || n < INT64_MIN || n > INT64_MAX) return refuse(column, 'a signed 64-bit integer', value);
  return n.toString();
};

const toInteger = (column: string, value: unknown): number => {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX) return refuse(column, 'a signed 32-bit integer', value);
  return n;
};

const toNumber = (column: string, value: unknown): number => {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return refuse(column, 'a finite number', value);
  return n;
};

const toText = (column: string, value: unknown): string | Buffer => {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  return refuse(column, 'a string', value);
};

const toTimestamp = (column: string, value: unknown): Date => {
  let d: Date | undefined;
  if (value instanceof Date) d = value;
  else if (typeof value === 'number') d = new Date(value);
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value)) d = new Date(value);
  if (d === undefined || Number.isNaN(d.getTime())) return refuse(column, 'an RFC 3339 timestamp with its offset, or milliseconds since the epoch', value);
  return d;
};

// An integer beyond 2^53 (kept exact by decodeJson) is stored as a JSON string of its digits:
// a JSON number that large would be rounded by most readers.
const toJson = (column: string, value: unknown): string => {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v));
  } catch (err) {
    return refuse(column, `a JSON value (${(err as Error).message})`, value);
  }
};

type Convert = (column: string, value: unknown) => BoundValue;

const CONVERT: Record<ColumnType, Convert> = {
  string: toText,
  text: toText,
  integer: toInteger,
  bigint: toBigintText,
  number: toNumber,
  boolean: (column, value) => (typeof value === 'boolean' ? value : refuse(column, 'true or false', value)),
  timestamp: toTimestamp,
  json: toJson,
};

/** A tombstone's key text as a key column's value. */
const fromKeyText = (column: CompiledColumn, text: string): BoundValue => {
  if (column.type === 'string') return text;
  if (column.type === 'integer') return toInteger(column.name, /^-?\d{1,10}$/.test(text) ? Number(text) : text);
  return toBigintText(column.name, text);
};

const getter = <T>(name: string, from: ColumnDef<T>['from']): ((doc: T) => unknown) => {
  if (typeof from === 'function') return from;
  const path = (from ?? name).split('.');
  if (path.some((p) => p === '')) throw new MappingError(`column ${name}: 'from' must be a field name or a dotted path, got ${JSON.stringify(from)}`);
  if (path.length === 1) {
    const field = path[0]!;
    return (doc) => (doc as Record<string, unknown>)[field];
  }
  return (doc) => readPath(doc, path);
};

/** The value at `path` (field names) in a decoded document; undefined where it stops. */
export const readPath = (doc: unknown, path: readonly string[]): unknown => {
  let v: unknown = doc;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
};

export const compileMapping = <T>(mapping: TableMapping<T>): CompiledMapping<T> => {
  const names = Object.keys(mapping.columns);
  if (names.length === 0) throw new MappingError('columns: a mapping needs at least one column');
  if (mapping.key.length === 0) throw new MappingError('key: name at least one key column');
  for (const name of [...names, ...Object.keys(mapping.stamps ?? {})]) {
    if (!NAME.test(name)) throw new MappingError(`column ${JSON.stringify(name)}: a column name is 1-64 letters, digits or '_', not starting with a digit`);
    if ((RESERVED_COLUMNS as readonly string[]).includes(name))
      throw new MappingError(`column ${name}: docpipe keeps its version in that column; choose another name`);
  }
  for (const k of mapping.key) {
    const def = mapping.columns[k];
    if (!def) throw new MappingError(`key: ${JSON.stringify(k)} is not one of the columns (${names.join(', ')})`);
    if (!KEY_TYPES.includes(def.type)) throw new MappingError(`key: column ${k} is ${def.type}; a key column is ${KEY_TYPES.join(', ')}`);
    if (def.optional) throw new MappingError(`key: column ${k} cannot be optional`);
  }
  for (const name of Object.keys(mapping.stamps ?? {})) {
    if (mapping.columns[name]) throw new MappingError(`stamps: ${name} is a mapped column too`);
  }
  const ordered = [...mapping.key, ...names.filter((n) => !mapping.key.includes(n))];
  const columns: CompiledColumn[] = ordered.map((name) => {
    const def = mapping.columns[name]!;
    if (!COLUMN_TYPES.includes(def.type))
      throw new MappingError(`column ${name}: type must be one of ${COLUMN_TYPES.join(', ')}, got ${JSON.stringify(def.type)}`);
    const length = def.length ?? 255;
    if (!Number.isInteger(length) || length < 1 || length > 16_383)
      throw new MappingError(`column ${name}: length must be an integer from 1 to 16383, got ${def.length}`);
    return { name, type: def.type, optional: def.optional === true, length, isKey: mapping.key.includes(name) };
  });
  const getters = ordered.map((name) => getter(name, mapping.columns[name]!.from));
  const converters = columns.map((c) => CONVERT[c.type]);
  const key = columns.filter((c) => c.isKey);
  const keyFields = mapping.key.map((k) => {
    const from = mapping.columns[k]!.from;
    return typeof from === 'string' ? from : k;
  });
  return {
    columns,
    key,
    stamps: Object.entries(mapping.stamps ?? {}).map(([name, stamp]) => ({ name, stamp })),
    mode: mapping.mode ?? 'upsert',
    migrate: mapping.migrate,
    values: (doc, into) => {
      const out = (into ?? new Array<BoundValue>(columns.length)) as BoundValue[];
      for (let i = 0; i < columns.length; i++) {
        const c = columns[i]!;
        const v = getters[i]!(doc);
        if (v === undefined || v === null) {
          if (!c.optional) throw new RecordError('map', 'ColumnError', `column ${c.name}: the document has no value for it${v === null ? ' (null)' : ''}`);
          out[i] = null;
        } else {
          out[i] = converters[i]!(c.name, v);
        }
      }
      return out;
    },
    keyValues: (text) => {
      if (key.length === 1) return [fromKeyText(key[0]!, text)];
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed !== 'object' || parsed === null) {
        throw new RecordError('delete', 'TombstoneKeyError', `a tombstone's key must be a JSON object with ${keyFields.join(', ')}; got ${describe(text)}`);
      }
      return key.map((c, i) => {
        const v = (parsed as Record<string, unknown>)[keyFields[i]!];
        if (v === undefined || v === null) throw new RecordError('delete', 'TombstoneKeyError', `a tombstone's key has no ${keyFields[i]} (column ${c.name})`);
        return fromKeyText(c, typeof v === 'string' ? v : JSON.stringify(v));
      });
    },
  };
};
