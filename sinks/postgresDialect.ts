/**
 * PostgreSQL for `SqlSink`: one named prepared multi-row statement per chunk,
 * `INSERT … ON CONFLICT (key) DO UPDATE SET … WHERE <version rule> RETURNING key` through `pg`.
 * The guard is the `WHERE` of the update, and the rows the server returns are exactly those it
 * inserted or replaced, so what it left alone (stale) is known without another query.
 *
 * @example
 * ```ts
 * import { PostgresDialect } from 'docpipe/sinks';
 * const dialect = new PostgresDialect();
 * ```
 */
import { createHash } from 'node:crypto';
import type { ColumnType, Stamp } from './tableMapping.js';
import type { ErrorKind } from './mysqlErrors.js';
import { classifyPostgresError, describePostgresError } from './postgresErrors.js';
import { newerSql } from './versionRule.js';
import { groupKeys, keyTextOf, stampLiteral, VERSION_BOUND, type PlannedRow, type SqlDialect, type TablePlan } from './sqlDialect.js';

/** The driver connection knex's pool hands out (pg's Client). */
interface PgClient {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

const STATEMENT_SHAPES = 16;

/** A statement's size in PostgreSQL is not bounded by a packet; this keeps one bind message (and its memory) moderate. */
const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

interface Prepared {
  readonly name: string;
  readonly text: string;
}

export class PostgresDialect implements SqlDialect {
  readonly name = 'postgresql';
  readonly maxParams = 65_535;
  readonly atomicStatements = true;
  private readonly statements = new WeakMap<TablePlan, Map<number, Prepared>>();

  quote(identifier: string): string {
    return q(identifier);
  }

  stampSql(stamp: Stamp): string {
    return stampLiteral(stamp, { now: 'CURRENT_TIMESTAMP', true: 'TRUE', false: 'FALSE' });
  }

  bind(type: ColumnType, value: unknown): unknown {
    // pg sends a Buffer as bytea; text columns want the characters.
    if (Buffer.isBuffer(value) && (type === 'string' || type === 'text')) return value.toString('utf8');
    return value;
  }

  classify(err: unknown): ErrorKind {
    return classifyPostgresError(err);
  }

  describe(err: unknown): string {
    return describePostgresError(err);
  }

  maxStatementBytes(): Promise<number> {
    return Promise.resolve(MAX_STATEMENT_BYTES);
  }

  async run(conn: unknown, sql: string): Promise<void> {
    await (conn as PgClient).query({ text: sql });
  }

  async execute(conn: unknown, plan: TablePlan, chunk: readonly PlannedRow[]): Promise<PlannedRow[]> {
    const values: unknown[] = [];
    for (const row of chunk) for (const p of row.params) values.push(p);
    const { name, text } = this.statementFor(plan, chunk.length);
    const { rows } = await (conn as PgClient).query({ name, text, values });
    if (rows.length === chunk.length) return [];
    const key = plan.mapping.key.map((k) => k.name);
    const written = new Set(rows.map((r) => keyTextOf(key.map((k) => r[k]))));
    return chunk.filter((r) => !written.has(r.keyText));
  }

  async uniqueKeys(conn: unknown, table: string): Promise<string[][] | undefined> {
    const c = conn as PgClient;
    const exists = await c.query({
      text: 'SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1',
      values: [table],
    });
    if (exists.rows.length === 0) return undefined;
    // Expression and partial indexes cannot serve ON CONFLICT (key): left out.
    const { rows } = await c.query({
      text: `SELECT i.relname AS k, a.attname AS c
        FROM pg_index x
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS u(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = u.attnum
        WHERE x.indisunique AND x.indpred IS NULL AND t.relname = $1 AND n.nspname = current_schema()
        ORDER BY i.relname, u.ord`,
      values: [table],
    });
    return groupKeys(rows as { k: string; c: string }[]);
  }

  async columns(conn: unknown, table: string): Promise<string[]> {
    const { rows } = await (conn as PgClient).query({
      text: 'SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position',
      values: [table],
    });
    return rows.map((r) => String(r.c));
  }

  private statementFor(plan: TablePlan, rows: number): Prepared {
    let shapes = this.statements.get(plan);
    if (!shapes) this.statements.set(plan, (shapes = new Map<number, Prepared>()));
    let prepared = shapes.get(rows);
    if (prepared === undefined) {
      const text = this.statementText(plan, rows);
      // The server keeps a named statement per connection; the name stands for the text.
      prepared = { name: `docpipe_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
      if (shapes.size >= STATEMENT_SHAPES) shapes.delete(shapes.keys().next().value!);
      shapes.set(rows, prepared);
    }
    return prepared;
  }

  private statementText(plan: TablePlan, rows: number): string {
    const width = plan.boundColumns.length;
    const stamps = plan.mapping.stamps;
    const stampSql = stamps.map((s) => this.stampSql(s.stamp));
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const params = plan.boundColumns.map((_, i) => `$${r * width + i + 1}`);
      tuples.push(`(${[...params, ...stampSql].join(', ')})`);
    }
    const columns = [...plan.boundColumns, ...stamps.map((s) => s.name)];
    const key = plan.mapping.key.map((k) => q(k.name)).join(', ');
    const head = `INSERT INTO ${q(plan.table)} AS cur (${columns.map(q).join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (${key})`;
    if (plan.mapping.mode === 'insert') return `${head} DO NOTHING RETURNING ${key}`;
    const replaced = [...plan.mapping.columns.filter((c) => !c.isKey).map((c) => c.name), ...stamps.map((s) => s.name), 'deleted_at', ...VERSION_BOUND];
    const set = replaced.map((c) => `${q(c)} = excluded.${q(c)}`).join(', ');
    const guard = newerSql(
      plan.rule,
      (c) => `excluded.${q(c)}`,
      (c) => `cur.${q(c)}`,
    );
    return `${head} DO UPDATE SET ${set} WHERE ${guard} RETURNING ${key}`;
  }
}
