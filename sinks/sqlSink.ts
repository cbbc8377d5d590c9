/**
 * Writes batches of your documents into your tables on MySQL/MariaDB, PostgreSQL or SQLite:
 * an upsert per row, guarded by the version rule, one transaction per batch and table.
 *
 * - A mapping (see tableMapping.ts) turns a document into a row; a document it cannot map is
 *   refused with the column named.
 * - Rows are de-duplicated within the batch (the newer version by the version rule wins) and
 *   sorted by key, so that concurrent batches lock keys in the same order and rarely deadlock.
 * - Chunks are sized by bytes, under the server's packet limit, and by the statement's
 *   parameter limit; each is one prepared multi-row statement where the driver has them.
 * - The upsert is guarded by the version each row keeps, so batches can be written
 *   concurrently and replayed: an older version never overwrites a newer one, and a replay
 *   changes nothing. What the guard refused comes back as stale, counted from the server's
 *   own answer.
 * - A delete (from a tombstone) is an upsert too: it leaves a marker row with `deleted_at` set
 *   and the delete's version, so a late older version cannot bring the document back.
 * - Transient errors (deadlock, lost connection…) retry the batch with backoff; data errors
 *   split the batch until the rows the database refuses are isolated and returned as
 *   rejected; anything else throws a {@link FatalSinkError}.
 * - `table` may name the topic (`orders_${topic}`) or be a function of the record: one sink
 *   writes several tables, each checked (or created) the first time it is met.
 *
 * The dialect (SQL spelling, error codes, how refused rows are known) comes from the knex
 * client: `mysql2`, `pg` or `better-sqlite3`.
 *
 * @example
 * ```ts
 * import { SqlSink, type TableMapping } from 'docpipe/sinks';
 * interface Product { sku: string; name: string; price: number }
 * const products: TableMapping<Product> = {
 *   key: ['sku'],
 *   columns: { sku: { type: 'string', length: 64 }, name: { type: 'string', length: 200 }, price: { type: 'number' } },
 * };
 * const sink = await SqlSink.open<Product>(knex, { mapping: products, table: 'products' });
 * const { written, rejected, stale } = await sink.write(batch.records);
 * ```
 */
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Envelope } from '../pipeline/core/envelope.js';
import { silentLogger } from '../pipeline/core/silentLogger.js';
import { retry, RetriesExceededError } from '../pipeline/core/retry.js';
import { RecordError, type Rejection } from '../pipeline/core/rejections.js';
import { FatalSinkError, type RecordSink, type SinkRejection, type SinkResult } from '../pipeline/core/recordSink.js';
import { isDeletion, type Deletion } from '../pipeline/core/documentVersion.js';
import { isNewer, VERSION_COLUMNS, type RowVersion, type VersionRule } from './versionRule.js';
import { recordVersion } from './recordVersion.js';
import { compileMapping, type CompiledMapping, type TableMapping } from './tableMapping.js';
import { keyTextOf, VERSION_BOUND, type PlannedRow, type SqlDialect, type TablePlan } from './sqlDialect.js';
import { ensureTable, tableProblem } from './tableSchema.js';
import { dialectFor } from './dialectFor.js';
import { knexClient } from './knexClient.js';
import { tableFor, type TableRoute } from './tableRoute.js';

export interface SqlSinkOptions<T> {
  mapping: TableMapping<T>;
  /** The table, a name with `${topic}` in it, or a function of the record (default `input_data`). */
  table?: TableRoute<T>;
  /** Create missing tables (and upgrade `input_data`) at first use (default true); otherwise a missing table is fatal. */
  autoMigrate?: boolean;
  /** Target size of one statement (capped below the server's packet limit). */
  chunkBytes?: number;
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxRetries?: number };
  /**
   * How long a batch may meet transient errors (an outage, a failover, a read-only server)
   * before the sink gives up with a fatal error (default 5 minutes).
   */
  outageTimeoutMs?: number;
  /** Which version of a document is newer: its Kafka position (default) or its own (`versionOf`). */
  versionRule?: VersionRule;
  /** A document's own version, for the external rule (default: its `version` field when that is a bigint). */
  versionOf?: (doc: T) => bigint | null;
  /** Tables to check (or create) at open, for routes that name the topic: these topics' tables. */
  topics?: readonly string[];
  /** The dialect; by default chosen from the knex client (and, for MySQL, the server's version). */
  dialect?: SqlDialect;
  logger?: Logger;
}

/** What a sink writes: a document of yours, or a delete. */
export type SqlSinkRecord<T> = T | Deletion;

/**
 * A record's row as the sink plans it: one object a row, since rows live on the heap while
 * their batch waits for the database and each object more is copied by every collection
 * meanwhile. The version is worked out only when asked (a key met twice, a refused row).
 */
class Pending<T> implements PlannedRow {
  constructor(
    readonly record: Envelope<SqlSinkRecord<T>>,
    readonly params: unknown[],
    readonly keyText: string,
    readonly bytes: number,
    readonly sortKey: number | bigint | string,
    private readonly external: bigint | null,
  ) {}

  get version(): RowVersion {
    return recordVersion(this.record, this.external);
  }
}

/** How long transient errors are retried by default before the sink gives up. */
export const DEFAULT_OUTAGE_TIMEOUT_MS = 5 * 60_000;

/** Bytes a row adds to a statement besides its values (length prefixes, types, bookkeeping). */
const ROW_OVERHEAD = 96;

/** Bytes a value of fixed size takes in a statement, at most. */
const FIXED_VALUE_BYTES = 16;

class RecordRejected extends Error {}

const valueBytes = (v: unknown): number => (typeof v === 'string' ? Buffer.byteLength(v) : Buffer.isBuffer(v) ? v.length : FIXED_VALUE_BYTES);

/**
 * An integer key's digits as something `<` orders by value: a number while it is exact (15
 * digits always are), a bigint beyond; the two compare exactly with each other.
 */
const integerSortKey = (digits: string): number | bigint => (digits.length <= 15 ? Number(digits) : BigInt(digits));

const rejection = (errorClass: string, message: string, stage = 'sink'): Rejection => ({ stage, errorClass, message });

const defaultVersionOf = (doc: unknown): bigint | null => {
  const v = (doc as { version?: unknown }).version;
  return typeof v === 'bigint' ? v : null;
};

export class SqlSink<T> implements RecordSink<SqlSinkRecord<T>> {
  private readonly log: Logger;
  private readonly rule: VersionRule;
  private readonly mapping: CompiledMapping<T>;
  private readonly route: (record: Envelope<SqlSinkRecord<T>>) => string;
  /** The single table, when the route does not depend on the record. */
  private readonly fixedTable: string | undefined;
  private readonly plans = new Map<string, Promise<TablePlan>>();
  private readonly versionOf: (doc: T) => bigint | null;
  private readonly sortAsBigint: boolean;

  private constructor(
    private readonly knex: Knex,
    readonly dialect: SqlDialect,
    private readonly maxStatementBytes: number,
    private readonly chunkBytes: number,
    private readonly options: SqlSinkOptions<T>,
  ) {
    this.mapping = compileMapping(options.mapping);
    const route = tableFor(options.table ?? 'input_data');
    this.route = (record) => route.of(record);
    this.fixedTable = route.fixed;
    this.log = (options.logger ?? silentLogger).child({ component: 'sink', ...(route.fixed !== undefined && { table: route.fixed }) });
    this.rule = options.versionRule ?? 'position';
    this.versionOf = options.versionOf ?? defaultVersionOf;
    const key = this.mapping.key;
    this.sortAsBigint = key.length === 1 && key[0]!.type !== 'string';
  }

  /**
   * Checks the connection and the tables known at start (creating them when allowed), and
   * reads the server's limits. A mapping that does not compile, or a table without a mapped
   * column or the key, stops here with a message.
   */
  static async open<T>(knex: Knex, options: SqlSinkOptions<T>): Promise<SqlSink<T>> {
    // A mapping or a table name that cannot work is the caller's error: it says which key is wrong.
    let route: ReturnType<typeof tableFor<T>>;
    try {
      compileMapping(options.mapping);
      route = tableFor(options.table ?? 'input_data');
    } catch (err) {
      throw new FatalSinkError(describe(err), { cause: err });
    }
    let dialect: SqlDialect;
    let maxStatementBytes: number;
    try {
      dialect = options.dialect ?? (await dialectFor(knex));
      const client = knexClient(knex);
      const conn = await client.acquireConnection();
      try {
        maxStatementBytes = await dialect.maxStatementBytes(conn);
      } finally {
        await client.releaseConnection(conn);
      }
    } catch (err) {
      if (err instanceof FatalSinkError) throw err;
      throw new FatalSinkError(`cannot use the database: ${describe(err)}`, { cause: err });
    }
    const chunkBytes = Math.min(options.chunkBytes ?? 2 * 1024 * 1024, maxStatementBytes);
    const sink = new SqlSink(knex, dialect, maxStatementBytes, chunkBytes, options);
    const known = route.fixed !== undefined ? [route.fixed] : (options.topics ?? []).flatMap((topic) => route.forTopic?.(topic) ?? []);
    for (const table of new Set(known)) await sink.plan(table);
    return sink;
  }

  /** The tables this sink has written or checked. */
  tables(): string[] {
    return [...this.plans.keys()];
  }

  async write(records: readonly Envelope<SqlSinkRecord<T>>[], options: { signal?: AbortSignal } = {}): Promise<SinkResult<SqlSinkRecord<T>>> {
    const { signal } = options;
    if (this.fixedTable !== undefined) return this.writeTable(this.fixedTable, records, signal);
    const byTable = new Map<string, Envelope<SqlSinkRecord<T>>[]>();
    const rejected: SinkRejection<SqlSinkRecord<T>>[] = [];
    for (const record of records) {
      let table: string;
      try {
        table = this.route(record);
      } catch (err) {
        rejected.push({ record, rejection: rejection('TableRouteError', (err as Error).message, 'route') });
        continue;
      }
      let group = byTable.get(table);
      if (!group) byTable.set(table, (group = []));
      group.push(record);
    }
    let written = 0;
    const stale: Envelope<SqlSinkRecord<T>>[] = [];
    // One table after another: the batch's connection budget is the pool's, shared by batches.
    for (const [table, group] of byTable) {
      const r = await this.writeTable(table, group, signal);
      written += r.written;
      rejected.push(...r.rejected);
      stale.push(...(r.stale ?? []));
    }
    return { written, rejected, stale };
  }

  /** The table's plan, checked (or created) the first time. */
  private plan(table: string): Promise<TablePlan> {
    let plan = this.plans.get(table);
    if (!plan) {
      plan = this.preparePlan(table);
      this.plans.set(table, plan);
      // A failed check is tried again when the table is next met (it may have been created meanwhile).
      plan.catch(() => this.plans.delete(table));
    }
    return plan;
  }

  private async preparePlan(table: string): Promise<TablePlan> {
    const mapping = this.mapping as CompiledMapping<unknown>;
    let report;
    try {
      report = await ensureTable(this.knex, this.dialect, table, mapping, { create: this.options.autoMigrate ?? true });
    } catch (err) {
      throw new FatalSinkError(`cannot prepare table ${table}: ${describe(err)}`, { cause: err });
    }
    if (!report) throw new FatalSinkError(`table ${table} does not exist; create it with 'docpipe migrate' or enable autoMigrate`);
    const problem = tableProblem(
      report,
      mapping.key.map((k) => k.name),
    );
    if (problem) throw new FatalSinkError(`${problem}; add what is missing, or let 'docpipe migrate' say the same`);
    if (report.created) this.log.info({ table }, 'table created from the mapping');
    for (const other of report.otherUniqueKeys) {
      this.log.warn(
        { table, key: mapping.key.map((k) => k.name), otherKey: other },
        'the table has another unique key than the mapping key: an upsert that matches it updates that row instead (MySQL) or fails (PostgreSQL, SQLite)',
      );
    }
    return {
      table,
      mapping,
      rule: this.rule,
      boundColumns: [...mapping.columns.map((c) => c.name), 'deleted_at', ...VERSION_BOUND],
      boundTypes: [...mapping.columns.map((c) => c.type), 'timestamp', 'string', 'integer', 'bigint', 'bigint', 'bigint'],
      insertStamps: mapping.stamps.filter((s) => !report.defaultedStamps.includes(s.name)),
    };
  }

  private async writeTable(table: string, records: readonly Envelope<SqlSinkRecord<T>>[], signal?: AbortSignal): Promise<SinkResult<SqlSinkRecord<T>>> {
    const plan = await this.plan(table);
    const rejected: SinkRejection<SqlSinkRecord<T>>[] = [];
    const stale: Envelope<SqlSinkRecord<T>>[] = [];
    // The newest version of each key in the batch, by the version rule.
    const latest = new Map<string, Pending<T>>();
    // Older versions the newest one replaced; they share its fate (written, stale or dead-lettered).
    const superseded = new Map<string, Envelope<SqlSinkRecord<T>>[]>();
    const deletedAt = new Date();
    for (const record of records) {
      let pending: Pending<T>;
      try {
        pending = this.pending(plan, record, deletedAt);
      } catch (err) {
        if (!(err instanceof RecordError)) throw err;
        rejected.push({ record, rejection: rejection(err.errorClass, err.message, err.stage) });
        continue;
      }
      const row = pending;
      // One that cannot fit a statement even alone is refused here.
      if (row.bytes > this.maxStatementBytes) {
        const limit = this.dialect.name === 'mysql' ? `max_allowed_packet (${this.maxStatementBytes} bytes and some)` : `${this.maxStatementBytes} bytes`;
        rejected.push({ record, rejection: rejection('RowTooLarge', `row of ${row.bytes} bytes cannot fit one statement: ${limit}`) });
        continue;
      }
      const earlier = latest.get(row.keyText);
      if (earlier && !isNewer(this.rule, row.version, earlier.version)) {
        // An older version than one already in the batch, e.g. from another partition.
        stale.push(record);
        continue;
      }
      if (earlier) superseded.set(row.keyText, [...(superseded.get(row.keyText) ?? []), earlier.record]);
      latest.set(row.keyText, pending);
    }
    const rows = [...latest.values()].sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    const refused: { keyText: string; rejection: SinkRejection<SqlSinkRecord<T>> }[] = [];
    const refusedAsStale: Pending<T>[] = [];
    const written = await this.writeIsolating(plan, rows, refused, refusedAsStale, signal);
    // An older version is done only if its replacement is: when the database refuses the
    // newer one, the older ones go to the dead-letter topic with it rather than vanish.
    for (const r of refused) {
      rejected.push(r.rejection);
      for (const older of superseded.get(r.keyText) ?? []) {
        rejected.push({
          record: older,
          rejection: {
            ...r.rejection.rejection,
            message: `superseded in its batch by offset ${r.rejection.record.offset}, which the database refused: ${r.rejection.rejection.message}`,
          },
        });
      }
    }
    for (const p of refusedAsStale) stale.push(p.record, ...(superseded.get(p.keyText) ?? []));
    if (refusedAsStale.length > 0 && this.log.isLevelEnabled('debug')) await this.logStale(plan, refusedAsStale).catch(() => {});
    return { written, rejected, stale };
  }

  private pending(plan: TablePlan, record: Envelope<SqlSinkRecord<T>>, deletedAt: Date): Pending<T> {
    const doc = record.payload;
    const mapping = this.mapping;
    const mapped = mapping.columns.length;
    // Every bound value of the row in one array of its final size: this runs for every record.
    const values = new Array<unknown>(plan.boundColumns.length);
    let external: bigint | null;
    if (isDeletion(doc)) {
      const key = mapping.keyValues(doc.key);
      for (let i = 0; i < mapped; i++) values[i] = i < key.length ? key[i] : null;
      values[mapped] = deletedAt;
      external = doc.version;
    } else {
      mapping.values(doc, values);
      values[mapped] = null;
      external = this.versionOf(doc);
    }
    // Read here, not kept: the row carries no version object while it waits (see Pending.version).
    const version = recordVersion(record, external);
    values[mapped + 1] = version.topic;
    values[mapped + 2] = version.partition;
    values[mapped + 3] = version.offset;
    values[mapped + 4] = version.timestamp;
    values[mapped + 5] = external === null ? null : external.toString();
    const types = plan.boundTypes;
    let bytes = ROW_OVERHEAD;
    for (let i = 0; i < values.length; i++) {
      const v = this.dialect.bind(types[i]!, values[i]);
      values[i] = v;
      bytes += valueBytes(v);
    }
    const keyWidth = mapping.key.length;
    const keyText = keyWidth === 1 ? String(values[0]) : keyTextOf(values.slice(0, keyWidth));
    return new Pending(record, values, keyText, bytes, this.sortAsBigint ? integerSortKey(keyText) : keyText, external);
  }

  /** Writes `rows` in one transaction; on a data error, halves and recurses to isolate it. */
  private async writeIsolating(
    plan: TablePlan,
    rows: Pending<T>[],
    rejected: { keyText: string; rejection: SinkRejection<SqlSinkRecord<T>> }[],
    stale: Pending<T>[],
    signal: AbortSignal | undefined,
  ): Promise<number> {
    if (rows.length === 0) return 0;
    try {
      const refused = await this.writeWithRetry(plan, rows, signal);
      stale.push(...refused);
      return rows.length - refused.length;
    } catch (err) {
      if (!(err instanceof RecordRejected)) throw err;
      const cause = err.cause;
      if (rows.length === 1) {
        const p = rows[0]!;
        const code = (cause as { code?: unknown }).code;
        rejected.push({
          keyText: p.keyText,
          rejection: { record: p.record, rejection: rejection(typeof code === 'string' ? code : 'DataError', this.dialect.describe(cause)) },
        });
        this.log.warn({ table: plan.table, key: p.keyText, err: this.dialect.describe(cause) }, 'row refused by the database');
        return 0;
      }
      const mid = rows.length >>> 1;
      return (
        (await this.writeIsolating(plan, rows.slice(0, mid), rejected, stale, signal)) +
        (await this.writeIsolating(plan, rows.slice(mid), rejected, stale, signal))
      );
    }
  }

  private writeWithRetry(plan: TablePlan, rows: Pending<T>[], signal: AbortSignal | undefined): Promise<Pending<T>[]> {
    const r = this.options.retry ?? {};
    return retry(() => this.transaction(plan, rows), {
      isTransient: (err) => this.dialect.classify(err) === 'transient',
      initialDelayMs: r.initialDelayMs ?? 200,
      maxDelayMs: r.maxDelayMs ?? 10_000,
      maxRetries: r.maxRetries ?? Infinity,
      maxElapsedMs: this.options.outageTimeoutMs ?? DEFAULT_OUTAGE_TIMEOUT_MS,
      ...(signal && { signal }),
      onRetry: (err, attempt, delayMs) =>
        this.log.warn(
          { table: plan.table, attempt, delayMs, rows: rows.length, err: this.dialect.describe(err) },
          'transient database error; retrying the batch',
        ),
    }).catch((err: unknown) => {
      // No one wants this write any more (its partitions were revoked): not the database's fault.
      if (signal?.aborted) throw signal.reason;
      if (err instanceof RetriesExceededError && err.elapsedMs >= (this.options.outageTimeoutMs ?? DEFAULT_OUTAGE_TIMEOUT_MS)) {
        throw new FatalSinkError(
          `writing to ${plan.table} has failed for ${Math.round(err.elapsedMs / 1000)} s, the outage timeout (outageTimeoutMs); last error: ${this.dialect.describe(err.cause)}`,
          { cause: err },
        );
      }
      const kind = this.dialect.classify(err);
      if (kind === 'record') throw new RecordRejected('data error', { cause: err });
      if (err instanceof FatalSinkError) throw err;
      throw new FatalSinkError(`writing to ${plan.table} failed: ${this.dialect.describe(err)}`, { cause: err });
    });
  }

  /**
   * One transaction on a pooled connection, through the driver directly: knex has no prepared
   * statements. The pool, its limits and its health checks are still knex's. Resolves with the
   * rows the version guard refused.
   */
  private async transaction(plan: TablePlan, rows: Pending<T>[]): Promise<Pending<T>[]> {
    const chunks = this.chunks(plan, rows);
    const first = chunks.next();
    if (first.done) return [];
    const second = chunks.next();
    const client = knexClient(this.knex);
    const conn = await client.acquireConnection();
    let open = false;
    try {
      if (second.done && this.dialect.atomicStatements) {
        // The usual case, a batch in one statement: that statement is atomic on its own
        // (autocommit), and BEGIN and COMMIT would cost two more round trips per batch.
        return await this.execute(conn, plan, first.value);
      }
      await this.dialect.run(conn, 'BEGIN');
      open = true;
      const stale = await this.execute(conn, plan, first.value);
      if (!second.done) {
        stale.push(...(await this.execute(conn, plan, second.value)));
        for (const chunk of chunks) stale.push(...(await this.execute(conn, plan, chunk)));
      }
      await this.dialect.run(conn, 'COMMIT');
      open = false;
      return stale;
    } catch (err) {
      // The server has rolled back already if the connection broke; this is for data errors.
      if (open) await this.dialect.run(conn, 'ROLLBACK').catch(() => {});
      throw err;
    } finally {
      await client.releaseConnection(conn);
    }
  }

  private async execute(conn: unknown, plan: TablePlan, chunk: Pending<T>[]): Promise<Pending<T>[]> {
    // The dialect hands back the very rows it was given.
    return (await this.dialect.execute(conn, plan, chunk)) as Pending<T>[];
  }

  private *chunks(plan: TablePlan, rows: Pending<T>[]): Generator<Pending<T>[], void, undefined> {
    const maxRows = Math.floor(this.dialect.maxParams / plan.boundColumns.length);
    let chunk: Pending<T>[] = [];
    let bytes = 0;
    for (const p of rows) {
      if (chunk.length > 0 && (bytes + p.bytes > this.chunkBytes || chunk.length === maxRows)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(p);
      bytes += p.bytes;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** A debug line per stale row with the version stored and the one refused. */
  private async logStale(plan: TablePlan, stale: readonly Pending<T>[]): Promise<void> {
    const key = plan.mapping.key.map((k) => k.name);
    const v = VERSION_COLUMNS;
    const rows = (await this.knex(plan.table)
      .select([...key, v.topic, v.partition, v.offset, v.timestamp, v.external])
      .whereIn(
        key,
        stale.map((p) => p.params.slice(0, key.length) as Knex.Value[]),
      )) as Record<string, unknown>[];
    const stored = new Map(rows.map((r) => [keyTextOf(key.map((k) => r[k])), r]));
    for (const p of stale) {
      const s = stored.get(p.keyText);
      const storedVersion = s && {
        topic: (s[v.topic] as string | null) ?? null,
        partition: Number(s[v.partition]),
        offset: Number(s[v.offset]),
        timestamp: s[v.timestamp] === null ? null : Number(s[v.timestamp]),
        external: s[v.external] === null ? null : BigInt(s[v.external] as string),
      };
      this.log.debug(
        {
          table: plan.table,
          ...(key.length === 1 ? { [key[0]!]: p.keyText } : { key: p.keyText }),
          stored: storedVersion ? describeVersion(storedVersion) : null,
          incoming: describeVersion(p.version),
        },
        'stale: the table holds this version or a newer one',
      );
    }
  }
}

/** An error before the dialect is known: its driver code (ER_ACCESS_DENIED_ERROR, 28P01, ECONNREFUSED…) and message. */
const describe = (err: unknown): string => {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  return typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
};

const describeVersion = (v: RowVersion): string =>
  v.external !== null ? `version ${v.external}` : `${v.topic ?? '?'}[${v.partition}]@${v.offset} at ${v.timestamp ?? 'unknown time'}`;
