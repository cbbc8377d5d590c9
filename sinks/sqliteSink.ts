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
import { isDeletion, type Deletion } from '../pipeline/core/documentVersion.js';
import { newerSql, type VersionRule } from './versionRule.js';
import { recordVersion } from './recordVersion.js';
import { migrateInputData } from './inputDataTable.js';
import { knexClient } from './knexClient.js';

export interface SqliteSinkOptions {
  table?: string;
  /** Create or upgrade the table at start (default true); otherwise a missing table is fatal. */
  autoMigrate?: boolean;
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxRetries?: number };
  /** Which version of a document is newer: its Kafka position (default) or its own (`versionField`). */
  versionRule?: VersionRule;
  logger?: Logger;
}

/** What the sink writes: a document, or a delete. */
export type SqliteSinkDocument = Document | Deletion;

/** Another connection holds the file's lock longer than the busy timeout. */
const isBusy = (err: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test((err as { code?: string }).code ?? '');

export class SqliteSink implements RecordSink<SqliteSinkDocument> {
  private readonly log: Logger;
  private readonly upsertSql: string;

  private constructor(
    private readonly knex: Knex,
    private readonly table: string,
    private readonly options: SqliteSinkOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'sink', table });
    const t = `"${table}"`;
    // `excluded` is the row that was refused by the unique key; the guard is the version rule.
    const newer = newerSql(
      options.versionRule ?? 'position',
      (c) => `excluded.${c}`,
      (c) => `${t}.${c}`,
    );
    this.upsertSql = `INSERT INTO ${t} (doc_id, title, body, url, deleted_at, src_topic, src_partition, src_offset, src_ts, doc_version)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (doc_id) DO UPDATE SET
        title = excluded.title, body = excluded.body, url = excluded.url, deleted_at = excluded.deleted_at, is_index = 0,
        src_topic = excluded.src_topic, src_partition = excluded.src_partition, src_offset = excluded.src_offset,
        src_ts = excluded.src_ts, doc_version = excluded.doc_version,
        updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
      WHERE ${newer}`;
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

  async write(records: readonly Envelope<SqliteSinkDocument>[]): Promise<SinkResult<SqliteSinkDocument>> {
    const r = this.options.retry ?? {};
    const { written, stale } = await retry(() => this.transaction(records), {
      isTransient: isBusy,
      initialDelayMs: r.initialDelayMs ?? 200,
      maxDelayMs: r.maxDelayMs ?? 10_000,
      maxRetries: r.maxRetries ?? Infinity,
      onRetry: (err, attempt, delayMs) => this.log.warn({ attempt, delayMs, err: (err as Error).message }, 'database busy; retrying the batch'),
    }).catch((err: unknown) => {
      throw new FatalSinkError(`writing to "${this.table}" failed: ${(err as Error).message}`, { cause: err });
    });
    return { written, rejected: [], stale };
  }

  /**
   * Applies the records in order in one transaction: a later version of a doc_id in the same
   * batch simply updates the row the earlier one wrote, as the version guard allows. A record
   * the guard refuses changes no row, which is how it is known to be stale.
   */
  private async transaction(records: readonly Envelope<SqliteSinkDocument>[]): Promise<{ written: number; stale: Envelope<SqliteSinkDocument>[] }> {
    const conn = (await knexClient(this.knex).acquireConnection()) as BetterSqlite3.Database;
    try {
      const upsert = conn.prepare(this.upsertSql);
      const deletedAt = new Date().toISOString().replace('T', ' ').replace('Z', '');
      const apply = conn.transaction((batch: readonly Envelope<SqliteSinkDocument>[]) => {
        const ids = new Set<bigint>();
        const stale: Envelope<SqliteSinkDocument>[] = [];
        for (const record of batch) {
          const d = record.payload;
          const deleted = isDeletion(d);
          const v = recordVersion(record, deleted ? d.version : (d.version ?? null));
          const content = deleted ? [null, null, null, deletedAt] : [d.title, d.body, d.url ?? null, null];
          const { changes } = upsert.run(d.doc_id, ...content, v.topic, v.partition, v.offset, v.timestamp, v.external);
          if (changes === 0) stale.push(record);
          else ids.add(d.doc_id);
        }
        return { written: ids.size, stale };
      });
      return apply(records);
    } finally {
      await knexClient(this.knex).releaseConnection(conn);
    }
  }
}
