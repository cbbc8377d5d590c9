/**
 * A table for a mapping: created with the mapped columns, the stamps and docpipe's version
 * columns, keyed by the key columns — or, when it exists, checked for all of them and for a
 * unique key on exactly the key columns. What is missing is said in one message.
 *
 * Non-key columns are created nullable: a delete leaves a marker row whose content is NULL
 * (the mapping, not the table, says which fields a document must have).
 *
 * @example
 * ```ts
 * import { compileMapping, ensureTable, MysqlDialect } from 'docpipe/sinks';
 * const report = await ensureTable(knex, await MysqlDialect.detect(knex), 'orders', compileMapping(orders), { create: true });
 * report.created; // true the first time
 * ```
 */
import type { Knex } from 'knex';
import type { CompiledMapping, Stamp } from './tableMapping.js';
import { defaultGives, type SqlDialect } from './sqlDialect.js';
import { knexClient } from './knexClient.js';

export interface TableReport {
  readonly table: string;
  readonly created: boolean;
  /** Columns the table lacks. */
  readonly missingColumns: readonly string[];
  /** True when a unique key (or the primary key) covers exactly the key columns. */
  readonly hasKey: boolean;
  /** Other unique keys made only of columns docpipe writes: an upsert may match on them instead. */
  readonly otherUniqueKeys: readonly (readonly string[])[];
  /** Stamps whose column default gives the same value, so that an insert may leave them out. */
  readonly defaultedStamps: readonly string[];
}

/** Every column a table written by docpipe has besides the mapped ones and the stamps. */
export const BOOKKEEPING_COLUMNS = ['deleted_at', 'src_topic', 'src_partition', 'src_offset', 'src_ts', 'doc_version'] as const;

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/** What is wrong with a table for a mapping, as one sentence; undefined when nothing is. */
export const tableProblem = (report: TableReport, key: readonly string[]): string | undefined => {
  const problems: string[] = [];
  if (report.missingColumns.length > 0) problems.push(`it has no column${report.missingColumns.length > 1 ? 's' : ''} ${report.missingColumns.join(', ')}`);
  if (!report.hasKey) problems.push(`no primary or unique key is on exactly (${key.join(', ')}), the mapping's key`);
  return problems.length === 0 ? undefined : `table ${report.table} does not fit the mapping: ${problems.join('; ')}`;
};

const isAlreadyExists = (err: unknown): boolean => {
  const e = err as { errno?: number; code?: string; message?: string };
  return e.errno === 1050 || e.code === '42P07' || /already exists/i.test(e.message ?? '');
};

const stampColumn = (knex: Knex, t: Knex.CreateTableBuilder, name: string, stamp: Stamp, mysql: boolean): void => {
  let col: Knex.ColumnBuilder;
  if (stamp === 'now') col = t.datetime(name, { precision: 3, useTz: !mysql }).nullable();
  else if (typeof stamp === 'boolean') col = t.boolean(name).nullable();
  else if (typeof stamp === 'number') col = t.double(name).nullable();
  else col = t.string(name, 255).nullable();
  // On MySQL the stamp's value as the column's default lets inserts leave it out (see
  // SqlDialect.columnDefaults); the other dialects spell stamps in every insert.
  if (mysql) col.defaultTo(stamp === 'now' ? knex.raw('CURRENT_TIMESTAMP(3)') : stamp);
};

/** Creates `table` for `mapping`. Fails if it exists. */
export const createTable = async (knex: Knex, dialect: SqlDialect, table: string, mapping: CompiledMapping<unknown>): Promise<void> => {
  const mysql = dialect.name === 'mysql';
  const sqlite = dialect.name === 'sqlite';
  await knex.schema.createTable(table, (t) => {
    for (const c of mapping.columns) {
      let col: Knex.ColumnBuilder;
      switch (c.type) {
        case 'string':
          col = t.string(c.name, c.length);
          // Case and accents make different keys, as they do in JavaScript and Kafka.
          if (mysql && c.isKey) col.collate('utf8mb4_bin');
          // SQLite keeps any length it is given unless told otherwise.
          if (sqlite) col.checkLength('<=', c.length);
          break;
        case 'text':
          col = t.text(c.name, 'longtext');
          break;
        case 'integer':
          col = t.integer(c.name);
          break;
        case 'bigint':
          col = t.bigInteger(c.name);
          break;
        case 'number':
          col = t.double(c.name);
          break;
        case 'boolean':
          col = t.boolean(c.name);
          break;
        case 'timestamp':
          col = t.datetime(c.name, { precision: 3, useTz: !mysql });
          break;
        case 'json':
          col = dialect.name === 'postgresql' ? t.jsonb(c.name) : t.json(c.name);
          break;
      }
      if (c.isKey) col.notNullable();
      else col.nullable();
    }
    for (const s of mapping.stamps) stampColumn(knex, t, s.name, s.stamp, mysql);
    t.datetime('deleted_at', { precision: 3, useTz: !mysql }).nullable();
    // Kafka topic names have at most 249 characters; compared byte for byte, as Kafka does.
    const topic = t.string('src_topic', 249).nullable();
    if (mysql) topic.collate('utf8mb4_bin');
    t.integer('src_partition').notNullable();
    t.bigInteger('src_offset').notNullable();
    t.bigInteger('src_ts').nullable();
    t.bigInteger('doc_version').nullable();
    t.primary(mapping.key.map((k) => k.name));
    if (mysql) {
      t.engine('InnoDB');
      t.charset('utf8mb4');
      t.collate('utf8mb4_unicode_ci');
    }
  });
};

/** Reads what `table` has against what `mapping` needs. */
export const inspectTable = async (
  knex: Knex,
  dialect: SqlDialect,
  table: string,
  mapping: CompiledMapping<unknown>,
): Promise<Omit<TableReport, 'created'> | undefined> => {
  const client = knexClient(knex);
  const conn = await client.acquireConnection();
  try {
    const keys = await dialect.uniqueKeys(conn, table);
    if (keys === undefined) return undefined;
    const have = new Set(await dialect.columns(conn, table));
    const written = [...mapping.columns.map((c) => c.name), ...mapping.stamps.map((s) => s.name), ...BOOKKEEPING_COLUMNS];
    const key = mapping.key.map((k) => k.name);
    const defaults = await dialect.columnDefaults?.(conn, table);
    return {
      table,
      defaultedStamps: defaults ? mapping.stamps.filter((s) => defaultGives(defaults.get(s.name), dialect.stampSql(s.stamp))).map((s) => s.name) : [],
      missingColumns: written.filter((c) => !have.has(c)),
      hasKey: keys.some((k) => sameSet(k, key)),
      otherUniqueKeys: keys.filter((k) => !sameSet(k, key) && k.every((c) => written.includes(c))),
    };
  } finally {
    await client.releaseConnection(conn);
  }
};

/**
 * Creates `table` when it is missing and `create` allows (several members starting at once:
 * the loser of the race finds it created), then inspects it. Undefined when it is missing and
 * may not be created.
 */
export const ensureTable = async (
  knex: Knex,
  dialect: SqlDialect,
  table: string,
  mapping: CompiledMapping<unknown>,
  options: { create: boolean },
): Promise<TableReport | undefined> => {
  let created = false;
  let found = await inspectTable(knex, dialect, table, mapping);
  if (found === undefined && options.create) {
    if (mapping.migrate) {
      await mapping.migrate(knex, table);
    } else {
      try {
        await createTable(knex, dialect, table, mapping);
        created = true;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
    found = await inspectTable(knex, dialect, table, mapping);
  } else if (found !== undefined && options.create && mapping.migrate) {
    // Tables with migrations of their own are brought up to date at every start.
    await mapping.migrate(knex, table);
    found = await inspectTable(knex, dialect, table, mapping);
  }
  return found && { ...found, created };
};
