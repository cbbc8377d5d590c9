/**
 * MySQL and MariaDB for `SqlSink`: one prepared multi-row `INSERT … ON DUPLICATE KEY UPDATE`
 * per chunk, executed with binary parameters through mysql2 (measured here: 1.5 × the rows per
 * second of the same statement as text, at three quarters of the client's CPU).
 *
 * - The version guard is decided once per row, first: MySQL evaluates the assignments of
 *   `ON DUPLICATE KEY UPDATE` in order, each seeing the ones before, so the first sets
 *   `src_ts` to a mark (-2; no Kafka timestamp is negative) when the row is newer, the others
 *   test the mark, and `src_ts` is set last.
 * - The incoming row is named by the alias form (`VALUES (…) AS new … new.col`) on MySQL
 *   8.0.19 and later, where `VALUES(col)` is deprecated; MariaDB has only `VALUES(col)`.
 * - What the guard refused is counted from the server's answer (see refusedCount) and only
 *   then looked up.
 *
 * @example
 * ```ts
 * import { MysqlDialect } from 'docpipe/sinks';
 * const dialect = await MysqlDialect.detect(knex); // reads VERSION() for the alias form
 * ```
 */
import type { Knex } from 'knex';
import type { ColumnType, Stamp } from './tableMapping.js';
import { classifyMysqlError, describeDbError, type ErrorKind } from './mysqlErrors.js';
import { newerSql, VERSION_COLUMNS, type RowVersion } from './versionRule.js';
import { groupKeys, keyTextOf, sqlString, stampLiteral, VERSION_BOUND, type PlannedRow, type SqlDialect, type TablePlan } from './sqlDialect.js';

/** The driver connection knex's pool hands out (mysql2). */
interface RawConnection {
  query(sql: string, cb: (err: Error | null, result: unknown) => void): void;
  query(sql: string, values: unknown[], cb: (err: Error | null, result: unknown) => void): void;
  execute(sql: string, values: unknown[], cb: (err: Error | null, result: unknown) => void): void;
}

/** The server's answer to an INSERT (mysql2's ResultSetHeader). */
interface ResultHeader {
  affectedRows: number;
  insertId?: number;
  info?: string;
}

const REPLACING = -2;

/** Statement texts kept per table, by row count; the driver keeps the prepared statements (see createKnex). */
const STATEMENT_SHAPES = 16;

/** Bytes of an execute packet besides its rows. */
const PACKET_OVERHEAD = 1024;

const q = (name: string): string => `\`${name}\``;

const queryOn = <T>(conn: RawConnection, sql: string, values: unknown[] = []): Promise<T> =>
  new Promise((resolve, reject) => conn.query(sql, values, (err, result) => (err ? reject(err) : resolve(result as T))));

/** True for a MySQL (not MariaDB) server of version 8.0.19 or later. */
export const supportsRowAlias = (version: string): boolean => {
  if (/mariadb/i.test(version)) return false;
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return major > 8 || (major === 8 && (minor > 0 || patch >= 19));
};

export class MysqlDialect implements SqlDialect {
  readonly name = 'mysql';
  readonly maxParams = 65_535;
  readonly atomicStatements = true;
  private readonly statements = new WeakMap<TablePlan, Map<string, string>>();
  private readonly bound = new WeakMap<TablePlan, Map<string, readonly number[]>>();
  private readonly updates = new WeakMap<TablePlan, string>();
  private readonly autoIncrement = new WeakMap<TablePlan, boolean>();

  private constructor(readonly rowAlias: boolean) {}

  /** Reads the server's version: the alias form where it exists, `VALUES()` elsewhere. */
  static async detect(knex: Knex): Promise<MysqlDialect> {
    const [rows] = (await knex.raw('SELECT VERSION() AS v')) as [[{ v: string }]];
    return new MysqlDialect(supportsRowAlias(String(rows[0].v)));
  }

  /** For a known server kind, without asking it. */
  static of(rowAlias: boolean): MysqlDialect {
    return new MysqlDialect(rowAlias);
  }

  quote(identifier: string): string {
    return q(identifier);
  }

  stampSql(stamp: Stamp): string {
    return stampLiteral(stamp, { now: 'CURRENT_TIMESTAMP(3)', true: '1', false: '0' });
  }

  bind(type: ColumnType, value: unknown): unknown {
    if (type === 'boolean' && typeof value === 'boolean') return value ? 1 : 0;
    return value;
  }

  classify(err: unknown): ErrorKind {
    return classifyMysqlError(err);
  }

  describe(err: unknown): string {
    return describeDbError(err);
  }

  async maxStatementBytes(conn: unknown): Promise<number> {
    const [row] = await queryOn<{ p: number | string }[]>(conn as RawConnection, 'SELECT @@max_allowed_packet AS p');
    return Number(row!.p) - PACKET_OVERHEAD;
  }

  async run(conn: unknown, sql: string): Promise<void> {
    await queryOn(conn as RawConnection, sql);
  }

  async execute(conn: unknown, plan: TablePlan, chunk: readonly PlannedRow[]): Promise<PlannedRow[]> {
    const c = conn as RawConnection;
    const shared = sharedValues(plan, chunk);
    const bound = this.boundIndexes(plan, shared);
    const params = new Array<unknown>(chunk.length * bound.length);
    let i = 0;
    for (const row of chunk) {
      const values = row.params;
      for (const b of bound) params[i++] = values[b];
    }
    // One row alone gets no row counts but its affected rows: 2 when replaced, and 1 both when
    // inserted and when left alone. An auto-increment id tells the two apart; without one, whether
    // the row was there before does (a concurrent writer of the same key can blur that, rarely).
    const alone = chunk.length === 1 && !(await this.hasAutoIncrement(c, plan));
    const existed = alone ? (await this.storedRows(c, plan, chunk)).length > 0 : false;
    const header = await new Promise<ResultHeader>((resolve, reject) =>
      c.execute(this.statementFor(plan, chunk.length, shared), params, (err, result) => (err ? reject(err) : resolve(result as ResultHeader))),
    );
    if (alone) return header.affectedRows === 1 && existed ? [...chunk] : [];
    const refused = refusedCount(header, chunk.length);
    if (refused === 0) return [];
    return this.whichStale(c, plan, chunk, refused);
  }

  private async hasAutoIncrement(conn: RawConnection, plan: TablePlan): Promise<boolean> {
    let known = this.autoIncrement.get(plan);
    if (known === undefined) {
      const rows = await queryOn<unknown[]>(
        conn,
        "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND EXTRA LIKE '%auto_increment%'",
        [plan.table],
      );
      this.autoIncrement.set(plan, (known = rows.length > 0));
    }
    return known;
  }

  private storedRows(conn: RawConnection, plan: TablePlan, chunk: readonly PlannedRow[]): Promise<Record<string, unknown>[]> {
    const key = plan.mapping.key.map((k) => k.name);
    const v = VERSION_COLUMNS;
    const where = chunk.map(() => `(${key.map((k) => `${q(k)} = ?`).join(' AND ')})`).join(' OR ');
    const sql = `SELECT ${[...key, v.topic, v.partition, v.offset, v.timestamp, v.external].map(q).join(', ')} FROM ${q(plan.table)} WHERE ${where}`;
    return queryOn<Record<string, unknown>[]>(
      conn,
      sql,
      chunk.flatMap((r) => r.params.slice(0, key.length)),
    );
  }

  /**
   * The rows of `chunk` the guard refused: those whose row now holds another version than
   * theirs. Only read when the server said some were refused, which in a steady stream of new
   * versions is never.
   */
  private async whichStale(conn: RawConnection, plan: TablePlan, chunk: readonly PlannedRow[], refused: number): Promise<PlannedRow[]> {
    const key = plan.mapping.key.map((k) => k.name);
    const rows = await this.storedRows(conn, plan, chunk);
    const stored = new Map(rows.map((r) => [keyTextOf(key.map((k) => r[k])), r]));
    const stale: PlannedRow[] = [];
    const same: PlannedRow[] = [];
    for (const p of chunk) {
      const s = stored.get(p.keyText);
      if (!s) continue;
      if (sameVersion(s, p.version)) same.push(p);
      else stale.push(p);
    }
    // A row that holds this very version was written now or was there already (a redelivery);
    // those fill up the server's count once the rows holding another are taken.
    for (const p of same) if (stale.length < refused) stale.push(p);
    // A concurrent batch may have replaced a row written here in between (outside a
    // transaction); the server's count is exact, the rows it names are those of the first.
    return stale.slice(0, refused);
  }

  async uniqueKeys(conn: unknown, table: string): Promise<string[][] | undefined> {
    const c = conn as RawConnection;
    const exists = await queryOn<unknown[]>(c, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
    if (exists.length === 0) return undefined;
    const rows = await queryOn<{ k: string; c: string }[]>(
      c,
      'SELECT INDEX_NAME AS k, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX',
      [table],
    );
    return groupKeys(rows);
  }

  async columnDefaults(conn: unknown, table: string): Promise<Map<string, string | null>> {
    const rows = await queryOn<{ c: string; d: string | null }[]>(
      conn as RawConnection,
      'SELECT COLUMN_NAME AS c, COLUMN_DEFAULT AS d FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [table],
    );
    return new Map(rows.map((r) => [r.c, r.d]));
  }

  async columns(conn: unknown, table: string): Promise<string[]> {
    const rows = await queryOn<{ c: string }[]>(
      conn as RawConnection,
      'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [table],
    );
    return rows.map((r) => r.c);
  }

  /** Indexes of the values bound per row: all but those the chunk shares. */
  private boundIndexes(plan: TablePlan, shared: SharedValues): readonly number[] {
    const key = [...shared.keys()].join(',');
    let byShared = this.bound.get(plan);
    if (!byShared) this.bound.set(plan, (byShared = new Map<string, readonly number[]>()));
    let bound = byShared.get(key);
    if (!bound) byShared.set(key, (bound = plan.boundColumns.map((_, i) => i).filter((i) => !shared.has(i))));
    return bound;
  }

  /**
   * The statement for `rows` rows of `plan`'s table with `shared` values spelt as literals,
   * built once per shape: a stream of one topic's new documents has one.
   */
  private statementFor(plan: TablePlan, rows: number, shared: SharedValues): string {
    let shapes = this.statements.get(plan);
    if (!shapes) this.statements.set(plan, (shapes = new Map<string, string>()));
    const literals = [...shared].map(([i, v]) => `${i}=${v}`).join(',');
    const shape = literals === '' ? String(rows) : `${rows};${literals}`;
    let sql = shapes.get(shape);
    if (sql === undefined) {
      const stamps = plan.insertStamps;
      const columns = [...plan.boundColumns, ...stamps.map((s) => s.name)];
      const tuple = `(${[...plan.boundColumns.map((_, i) => shared.get(i) ?? '?'), ...stamps.map((s) => this.stampSql(s.stamp))].join(', ')})`;
      const alias = this.rowAlias ? ' AS new' : '';
      sql = `INSERT INTO ${q(plan.table)} (${columns.map(q).join(', ')}) VALUES ${new Array<string>(rows).fill(tuple).join(', ')}${alias} ON DUPLICATE KEY UPDATE ${this.updateClause(plan)}`;
      // Full batches all have the same count; the few odd ones need not stay.
      if (shapes.size >= STATEMENT_SHAPES) shapes.delete(shapes.keys().next().value!);
      shapes.set(shape, sql);
    }
    return sql;
  }

  private updateClause(plan: TablePlan): string {
    let clause = this.updates.get(plan);
    if (clause !== undefined) return clause;
    const incoming = this.rowAlias ? (c: string) => `new.${q(c)}` : (c: string) => `VALUES(${q(c)})`;
    const ts = q(VERSION_COLUMNS.timestamp);
    // Insert mode keeps the first version of a key: the guard is never true.
    const newer = plan.mapping.mode === 'insert' ? 'FALSE' : newerSql(plan.rule, incoming, q);
    const replacing = `(${ts} <=> ${REPLACING})`;
    const replaced = [
      ...plan.mapping.columns.filter((c) => !c.isKey).map((c) => c.name),
      'deleted_at',
      ...VERSION_BOUND.filter((c) => c !== VERSION_COLUMNS.timestamp),
    ];
    clause = [
      `${ts} = IF(${newer}, ${REPLACING}, ${ts})`,
      ...replaced.map((c) => `${q(c)} = IF(${replacing}, ${incoming(c)}, ${q(c)})`),
      // Spelled here, not read from the incoming row: an insert may have left a stamp to its default.
      ...plan.mapping.stamps.map((s) => `${q(s.name)} = IF(${replacing}, ${this.stampSql(s.stamp)}, ${q(s.name)})`),
      `${ts} = IF(${replacing}, ${incoming(VERSION_COLUMNS.timestamp)}, ${ts})`,
    ].join(', ');
    this.updates.set(plan, clause);
    return clause;
  }
}

/**
 * Rows of a multi-row `INSERT … ON DUPLICATE KEY UPDATE` that hit an existing row and were left
 * as they were. The server counts 1 for a row inserted, 2 for a row updated and, since mysql2
 * connects with CLIENT_FOUND_ROWS, 1 for a row it found and left unchanged, and it names the
 * rows that hit an existing one in its info line ("Records: 3  Duplicates: 1  Warnings: 0").
 * So of `rows` rows, those updated are `affected − rows`, and those left are the duplicates
 * that were not updated. A single row gets no info line: 2 is an update, and an insert is
 * told by the auto-increment id it was given, where the table has one.
 */
export const refusedCount = (header: ResultHeader, rows: number): number => {
  const duplicates = /Duplicates:\s*(\d+)/.exec(header.info ?? '');
  if (duplicates) return Math.max(0, Number(duplicates[1]) - (header.affectedRows - rows));
  if (rows !== 1) throw new Error(`the server gave no row counts for an INSERT of ${rows} rows (info: ${JSON.stringify(header.info ?? null)})`);
  return header.affectedRows === 2 || (header.insertId ?? 0) > 0 ? 0 : 1;
};

const sameVersion = (s: Record<string, unknown>, v: RowVersion): boolean => {
  const c = VERSION_COLUMNS;
  const n = (x: unknown): number | null => (x === null || x === undefined ? null : Number(x));
  return (
    (s[c.topic] ?? null) === v.topic &&
    n(s[c.partition]) === v.partition &&
    n(s[c.offset]) === v.offset &&
    n(s[c.timestamp]) === v.timestamp &&
    (s[c.external] === null || s[c.external] === undefined ? null : BigInt(s[c.external] as string)) === v.external
  );
};

/** Bound columns whose value a chunk's rows usually share, by the column's index: SQL literals. */
type SharedValues = Map<number, string>;

/**
 * Columns that hold one value across most chunks: no deletes, no external versions (NULL in
 * both), one topic. Only NULL and a topic are spelt: a value that changes from write to write
 * (a version) would make every statement new, and prepared again.
 */
const SHAREABLE = ['deleted_at', VERSION_COLUMNS.topic, VERSION_COLUMNS.external];

/** What a topic name must look like to be spelt in SQL: Kafka's own alphabet for topic names. */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * The values of {@link SHAREABLE} columns every row of `chunk` has alike, as SQL: each is then
 * spelt once in the statement instead of bound per row (a parameter costs the driver an object
 * and the server a conversion per row, measurable at tens of thousands of rows a second).
 */
const sharedValues = (plan: TablePlan, chunk: readonly PlannedRow[]): SharedValues => {
  const shared: SharedValues = new Map();
  for (const name of SHAREABLE) {
    const i = plan.boundColumns.indexOf(name);
    if (i < 0) continue;
    const first = chunk[0]!.params[i];
    const literal =
      first === null ? 'NULL' : name === VERSION_COLUMNS.topic && typeof first === 'string' && TOPIC_NAME.test(first) ? sqlString(first) : undefined;
    if (literal === undefined) continue;
    let alike = true;
    for (const row of chunk) {
      if (row.params[i] !== first) {
        alike = false;
        break;
      }
    }
    if (alike) shared.set(i, literal);
  }
  return shared;
};
