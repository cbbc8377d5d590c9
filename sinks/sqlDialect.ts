/**
 * What differs between the databases `SqlSink` writes: how an upsert guarded by the version
 * rule is spelt, how the server says which rows it left alone, how values are bound, which
 * error codes are transient, refused data or fatal, and how a table's keys are read. The
 * sink does the rest (mapping, de-duplication, ordering, chunking, bisection, retries) the
 * same way for all of them.
 *
 * @example
 * ```ts
 * import { dialectFor } from 'docpipe/sinks';
 * const dialect = dialectFor(knex); // MySQL/MariaDB, PostgreSQL or SQLite, from the knex client
 * ```
 */
import type { ColumnType, CompiledMapping, Stamp } from './tableMapping.js';
import type { ErrorKind } from './mysqlErrors.js';
import type { RowVersion, VersionRule } from './versionRule.js';

export type DialectName = 'mysql' | 'postgresql' | 'sqlite';

/** One table as the sink writes it. */
export interface TablePlan {
  readonly table: string;
  readonly mapping: CompiledMapping<unknown>;
  readonly rule: VersionRule;
  /** Columns bound per row, in order: the mapped columns, then `deleted_at` and the version columns. */
  readonly boundColumns: readonly string[];
  /** Types of the bound columns, for the dialect's last conversion. */
  readonly boundTypes: readonly ColumnType[];
  /**
   * The stamps an insert spells out; the others the column's default already gives, and a
   * value per row the server need not evaluate is measurably cheaper (see columnDefaults).
   */
  readonly insertStamps: readonly { readonly name: string; readonly stamp: Stamp }[];
}

/** A row ready to bind, with what the sink needs to order, size and account for it. */
export interface PlannedRow {
  readonly params: unknown[];
  /** The key's values as one string: equal keys, equal strings. */
  readonly keyText: string;
  readonly version: RowVersion;
  readonly bytes: number;
}

/** A pooled connection of the driver, as knex hands it out. */
export type DriverConnection = unknown;

export interface SqlDialect {
  readonly name: DialectName;
  /** Parameters one statement may bind. */
  readonly maxParams: number;
  /** True when one statement is atomic without a transaction around it (a batch of one chunk then skips BEGIN/COMMIT). */
  readonly atomicStatements: boolean;
  quote(identifier: string): string;
  /** A stamp as SQL (constants as literals, `now` as the server's clock). */
  stampSql(stamp: Stamp): string;
  /** The last conversion of a value to what the driver binds for a column of `type`. */
  bind(type: ColumnType, value: unknown): unknown;
  classify(err: unknown): ErrorKind;
  describe(err: unknown): string;
  /** Bytes one statement may take (the server's packet limit, or a sensible size). */
  maxStatementBytes(conn: DriverConnection): Promise<number>;
  /** Runs a statement without results (BEGIN, COMMIT…). */
  run(conn: DriverConnection, sql: string): Promise<void>;
  /** Writes one chunk; resolves with the rows the version guard refused. */
  execute(conn: DriverConnection, plan: TablePlan, chunk: readonly PlannedRow[]): Promise<PlannedRow[]>;
  /** Unique keys (the primary key included) of `table`, each as its column names; undefined when the table does not exist. */
  uniqueKeys(conn: DriverConnection, table: string): Promise<string[][] | undefined>;
  /** Column names of `table`. */
  columns(conn: DriverConnection, table: string): Promise<string[]>;
  /**
   * Each column's default as the catalogue spells it (null when it has none). Where it spells
   * what `stampSql` does, an insert leaves that stamp to the default; a dialect without this
   * method spells every stamp in every insert.
   */
  columnDefaults?(conn: DriverConnection, table: string): Promise<Map<string, string | null>>;
}

/** True when a column default, as the catalogue spells it, gives what the stamp's SQL gives. */
export const defaultGives = (spelled: string | null | undefined, stampSql: string): boolean =>
  spelled !== null && spelled !== undefined && squeeze(spelled) === squeeze(stampSql);

// Catalogues differ in case and spacing only (MariaDB: current_timestamp(3); MySQL: CURRENT_TIMESTAMP(3)).
const squeeze = (sql: string): string => sql.replace(/\s+/g, '').toLowerCase();

/** Column names of the version a row keeps, in the order they are bound. */
export const VERSION_BOUND = ['src_topic', 'src_partition', 'src_offset', 'src_ts', 'doc_version'] as const;

/** A string literal in SQL (single quotes doubled, the standard form every dialect here reads). */
export const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** A stamp as SQL, given the dialect's spelling of true, false and now. */
export const stampLiteral = (stamp: Stamp, spell: { now: string; true: string; false: string }): string => {
  if (stamp === 'now') return spell.now;
  if (typeof stamp === 'boolean') return stamp ? spell.true : spell.false;
  if (typeof stamp === 'number') {
    if (!Number.isFinite(stamp)) throw new Error(`a stamp must be a finite number, got ${stamp}`);
    return String(stamp);
  }
  return sqlString(stamp);
};

/** The key text of stored values, as `SqlSink` makes it for rows it writes. */
export const keyTextOf = (values: readonly unknown[]): string =>
  values.length === 1 ? String(values[0]) : JSON.stringify(values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v))));

/** Unique keys from (index name, column) rows in column order, as each dialect's catalogue lists them. */
export const groupKeys = (rows: readonly { k: string; c: string }[]): string[][] => {
  const keys = new Map<string, string[]>();
  for (const r of rows) keys.set(r.k, [...(keys.get(r.k) ?? []), r.c]);
  return [...keys.values()];
};
