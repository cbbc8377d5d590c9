/**
 * SQLite for `SqlSink`, through better-sqlite3: `INSERT … ON CONFLICT (key) DO UPDATE … WHERE
 * <version rule>`, one prepared single-row statement run per row inside the batch's
 * transaction. The driver is synchronous and in-process, so a statement per row costs no round
 * trip, and the row count each run reports (0 when the guard refused) says exactly which rows
 * were stale.
 *
 * SQLite stores what it is given whatever the declared type; the tables `docpipe migrate`
 * creates here check string lengths, so a value too long is refused as on the servers.
 *
 * @example
 * ```ts
 * import { SqliteDialect } from 'docpipe/sinks';
 * const dialect = new SqliteDialect();
 * ```
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { ColumnType, Stamp } from './tableMapping.js';
import type { ErrorKind } from './mysqlErrors.js';
import { newerSql } from './versionRule.js';
import { stampLiteral, VERSION_BOUND, type PlannedRow, type SqlDialect, type TablePlan } from './sqlDialect.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

const RECORD_CODES = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/;

/** Milliseconds in UTC, the text form SQLite's date functions read. */
const sqliteTime = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');

export class SqliteDialect implements SqlDialect {
  readonly name = 'sqlite';
  readonly maxParams = 32_766;
  readonly atomicStatements = false;
  private readonly statements = new WeakMap<TablePlan, string>();

  quote(identifier: string): string {
    return q(identifier);
  }

  stampSql(stamp: Stamp): string {
    return stampLiteral(stamp, { now: "strftime('%Y-%m-%d %H:%M:%f', 'now')", true: '1', false: '0' });
  }

  bind(type: ColumnType, value: unknown): unknown {
    if (Buffer.isBuffer(value) && (type === 'string' || type === 'text')) return value.toString('utf8');
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value instanceof Date) return sqliteTime(value);
    return value;
  }

  classify(err: unknown): ErrorKind {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') return 'fatal';
    // Another connection holds the file's lock longer than the busy timeout.
    if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return 'transient';
    if (RECORD_CODES.test(code)) return 'record';
    return 'fatal';
  }

  describe(err: unknown): string {
    const e = err as { code?: string; message?: string };
    return e.code ? `${e.code}: ${e.message ?? ''}` : (e.message ?? String(err));
  }

  maxStatementBytes(): Promise<number> {
    // Rows are bound one at a time: a chunk is only the unit of bisection here.
    return Promise.resolve(8 * 1024 * 1024);
  }

  run(conn: unknown, sql: string): Promise<void> {
    (conn as BetterSqlite3.Database).exec(sql);
    return Promise.resolve();
  }

  execute(conn: unknown, plan: TablePlan, chunk: readonly PlannedRow[]): Promise<PlannedRow[]> {
    const statement = (conn as BetterSqlite3.Database).prepare(this.statementFor(plan));
    const refused: PlannedRow[] = [];
    for (const row of chunk) if (statement.run(...row.params).changes === 0) refused.push(row);
    return Promise.resolve(refused);
  }

  uniqueKeys(conn: unknown, table: string): Promise<string[][] | undefined> {
    const db = conn as BetterSqlite3.Database;
    const info = db.prepare(`PRAGMA table_info(${q(table)})`).all() as { name: string; pk: number | bigint }[];
    if (info.length === 0) return Promise.resolve(undefined);
    const keys: string[][] = [];
    const pk = info.filter((c) => Number(c.pk) > 0).sort((a, b) => Number(a.pk) - Number(b.pk));
    if (pk.length > 0) keys.push(pk.map((c) => c.name));
    const indexes = db.prepare(`PRAGMA index_list(${q(table)})`).all() as { name: string; unique: number | bigint; origin: string; partial: number | bigint }[];
    for (const index of indexes) {
      if (Number(index.unique) !== 1 || Number(index.partial) === 1 || index.origin === 'pk') continue;
      const cols = db.prepare(`PRAGMA index_info(${q(index.name)})`).all() as { seqno: number | bigint; name: string | null }[];
      if (cols.some((c) => c.name === null)) continue;
      keys.push(cols.sort((a, b) => Number(a.seqno) - Number(b.seqno)).map((c) => c.name!));
    }
    return Promise.resolve(keys);
  }

  columns(conn: unknown, table: string): Promise<string[]> {
    const info = (conn as BetterSqlite3.Database).prepare(`PRAGMA table_info(${q(table)})`).all() as { name: string }[];
    return Promise.resolve(info.map((c) => c.name));
  }

  private statementFor(plan: TablePlan): string {
    let sql = this.statements.get(plan);
    if (sql !== undefined) return sql;
    const stamps = plan.mapping.stamps;
    const columns = [...plan.boundColumns, ...stamps.map((s) => s.name)];
    const values = [...plan.boundColumns.map(() => '?'), ...stamps.map((s) => this.stampSql(s.stamp))];
    const key = plan.mapping.key.map((k) => q(k.name)).join(', ');
    const head = `INSERT INTO ${q(plan.table)} (${columns.map(q).join(', ')}) VALUES (${values.join(', ')}) ON CONFLICT (${key})`;
    if (plan.mapping.mode === 'insert') {
      sql = `${head} DO NOTHING`;
    } else {
      const replaced = [...plan.mapping.columns.filter((c) => !c.isKey).map((c) => c.name), ...stamps.map((s) => s.name), 'deleted_at', ...VERSION_BOUND];
      const guard = newerSql(
        plan.rule,
        (c) => `excluded.${q(c)}`,
        (c) => `${q(plan.table)}.${q(c)}`,
      );
      sql = `${head} DO UPDATE SET ${replaced.map((c) => `${q(c)} = excluded.${q(c)}`).join(', ')} WHERE ${guard}`;
    }
    this.statements.set(plan, sql);
    return sql;
  }
}
