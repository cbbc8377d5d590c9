/**
 * The shapes of docpipe's settings and the error a malformed one raises. Where each setting
 * comes from (file, environment, flags) and its default: runConfig.ts.
 *
 * @example
 * ```ts
 * import { ConfigError } from './env.js';
 * throw new ConfigError('DOCPIPE_DB_PORT', 'a TCP port number (1-65535)', 'mysql');
 * ```
 */
import type { Database, DbConnection } from '../../sinks/database.js';
import type { TableMapping } from '../../sinks/tableMapping.js';

export interface Connection {
  kafkaBrokers: string;
  /** librdkafka settings passed through to every client (SASL, SSL, timeouts). */
  rdkafka: Record<string, string | number | boolean>;
  /** The server settings (host, port, user…), whichever the client. */
  db: DbConnection;
  /** Where documents are written: the server of `db` for the configured client, or an SQLite file. */
  target: Database;
}

/** A setting that is present but malformed: names the key and the expected form. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly got: string,
    message?: string,
  ) {
    super(message ?? `${key} must be ${expected}, got ${JSON.stringify(got)}`);
    this.name = 'ConfigError';
  }
}

/** The resolved settings of `docpipe run` (see runConfig.ts for where each comes from). */
export interface RunSettings extends Connection {
  topics: string[];
  groupId: string;
  /** Static membership id; undefined for none. */
  instanceId: string | undefined;
  groupProtocol: 'classic' | 'consumer';
  outageTimeoutMs: number;
  table: string;
  /** Your table's key and columns; undefined for docpipe's own documents into input_data's shape. */
  mapping: TableMapping<Record<string, unknown>> | undefined;
  autoMigrate: boolean;
  maxInFlightRecords: number;
  maxInFlightBytes: number;
  maxPartitionRecords: number;
  batchRecords: number;
  batchBytes: number;
  batchDelayMs: number;
  sinkConcurrency: number;
  decodeInWorker: boolean;
  deletes: boolean;
  /** The document field holding its own version; undefined for none. */
  versionField: string | undefined;
  commitIntervalMs: number;
  drainTimeoutMs: number;
  /** Port of the metrics and health endpoints; 0 for none. */
  metricsPort: number;
}
