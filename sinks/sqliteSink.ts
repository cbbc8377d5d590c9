/**
 * Writes batches of documents into an embedded SQLite file: the demo's database on a machine
 * with no MySQL, and a way to try docpipe without a server. Same table, same guarantees as the
 * MySQL sink — one transaction per batch, an upsert guarded by the Kafka position so that an
 * older version never overwrites a newer one and a replay changes nothing — with SQLite's
 * `INSERT … ON CONFLICT DO UPDATE … WHERE`.
 *
 * SQLite stores any text or integer it is given, so no record is refused for its data; a busy
 * database is retried, and anything else (disk full, read-only file) is fatal.
 *
 * @example
 * ```ts
 * import { createSqliteKnex, SqliteSink } from 'docpipe/sinks';
 * const sink = await SqliteSink.open(createSqliteKnex('/tmp/docpipe.db'), { table: 'input_data' });
 * const { written } = await sink.write(batch.records);
 * ```
 */
import type { Knex } from 'knex';
import type BetterSqlite3 from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Envelope } from '../pipeline/core/envelope.js';
import { silentLogger } from '../pipeline/core/silentLogger.js';
import { retry } from '../pipeline/core/retry.js';
import { FatalSinkError, type RecordSink, type SinkResult } from '../pipeline/core/recordSink.js';
import type { Document } from '../pipeline/core/documentSchema.js';
import { migrateInputData } from './inputDataTable.js';
import { knexClient } from './knexClient.js';

export interface SqliteSinkOptions {
  table?: string;
  /** Create or upgrade the table at start (default true); otherwise a missing table is fatal. */
  autoMigrate?: boolean;
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxRetries?: number };
  logger?: Logger;
}

/** Another connection holds the file's lock longer than the busy timeout. */
const isBusy = (err: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test((err as { code?: string }).code ?? '');

export class SqliteSink implements RecordSink<Document> {
  private readonly log: Logger;
  private readonly upsertSql: string;

  private constructor(
    private readonly knex: Knex,
    private readonly table: string,
    private readonly options: SqliteSinkOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'sink', table });
    const t = `"${table}"`;
    // Newer if it comes from another partition (offsets are not comparable then) or from a
    // later offset of the same one; `excluded` is the row that was refused by the unique key.
    this.upsertSql = `INSERT INTO ${t} (doc_id, title, body, url, src_partition, src_offset) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (doc_id) DO UPDATE SET
        title = excluded.title, body = excluded.body, url = excluded.url, is_index = 0,
        src_partition = excluded.src_partition, src_offset = excluded.src_offset,
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
      WHERE excluded.src_partition <> ${t}.src_partition OR excluded.src_offset > ${t}.src_offset`;
  }

  /** Checks the file and the table (creating it when allowed). */
  static async open(knex: Knex, options: SqliteSinkOptions = {}): Promise<SqliteSink> {
    const table = options.table ?? 'input_data';
    if (!/^[A-Za-z0-9_]{1,64}$/.test(table)) {
      throw new FatalSinkError(`table must be 1-64 letters, digits or '_', got ${JSON.stringify(table)}`);
    }
    try {
      if (options.autoMigrate ?? true) await migrateInputData(knex, table);
      else if (!(await knex.schema.hasTable(table))) {
        throw new FatalSinkError(`table "${table}" does not exist; create it with 'docpipe migrate' or enable autoMigrate`);
      }
    } catch (err) {
      if (err instanceof FatalSinkError) throw err;
      throw new FatalSinkError(`cannot use the SQLite database: ${(err as Error).message}`, { cause: err });
    }
    return new SqliteSink(knex, table, options);
  }

  async write(records: readonly Envelope<Document>[]): Promise<SinkResult<Document>> {
    const r = this.options.retry ?? {};
    const written = await retry(() => this.transaction(records), {
      isTransient: isBusy,
      initialDelayMs: r.initialDelayMs ?? 200,
      maxDelayMs: r.maxDelayMs ?? 10_000,
      maxRetries: r.maxRetries ?? Infinity,
      onRetry: (err, attempt, delayMs) => this.log.warn({ attempt, delayMs, err: (err as Error).message }, 'database busy; retrying the batch'),
    }).catch((err: unknown) => {
      throw new FatalSinkError(`writing to "${this.table}" failed: ${(err as Error).message}`, { cause: err });
    });
    return { written, rejected: [] };
  }

  /**
   * Applies the records in order in one transaction: a later version of a doc_id in the same
   * batch simply updates the row the earlier one wrote, as the position guard allows.
   */
  private async transaction(records: readonly Envelope<Document>[]): Promise<number> {
    const conn = (await knexClient(this.knex).acquireConnection()) as BetterSqlite3.Database;
    try {
      const upsert = conn.prepare(this.upsertSql);
      const apply = conn.transaction((batch: readonly Envelope<Document>[]) => {
        const ids = new Set<bigint>();
        for (const { payload: d, partition, offset } of batch) {
          upsert.run(d.doc_id, d.title, d.body, d.url ?? null, partition, offset);
          ids.add(d.doc_id);
        }
        return ids.size;
      });
      return apply(records);
    } finally {
      await knexClient(this.knex).releaseConnection(conn);
    }
  }
}
