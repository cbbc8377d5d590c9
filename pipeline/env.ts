/**
 * Reads docpipe's connection settings from the environment, with defaults that match the
 * local stack (`npm run stack:up`).
 *
 * @example
 * ```ts
 * import { connectionFromEnv } from './env.js';
 * const { kafkaBrokers, db } = connectionFromEnv(process.env);
 * ```
 */
export interface DbConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface Connection {
  kafkaBrokers: string;
  db: DbConnection;
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

const port = (env: NodeJS.ProcessEnv, key: string, fallback: number): number => {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(key, 'a TCP port number (1-65535)', raw);
  }
  return n;
};

const text = (env: NodeJS.ProcessEnv, key: string, fallback: string): string => {
  const raw = env[key];
  return raw === undefined || raw === '' ? fallback : raw;
};

export const connectionFromEnv = (env: NodeJS.ProcessEnv): Connection => ({
  kafkaBrokers: text(env, 'DOCPIPE_KAFKA_BROKERS', '127.0.0.1:9092'),
  db: {
    host: text(env, 'DOCPIPE_DB_HOST', '127.0.0.1'),
    port: port(env, 'DOCPIPE_DB_PORT', 3306),
    user: text(env, 'DOCPIPE_DB_USER', 'docpipe'),
    password: env['DOCPIPE_DB_PASSWORD'] ?? 'docpipe',
    database: text(env, 'DOCPIPE_DB_NAME', 'docpipe'),
  },
});

/** The resolved settings of `docpipe run` (see runConfig.ts for where each comes from). */
export interface RunSettings extends Connection {
  topics: string[];
  groupId: string;
  table: string;
  autoMigrate: boolean;
  maxInFlightRecords: number;
  maxInFlightBytes: number;
  batchRecords: number;
  batchBytes: number;
  batchDelayMs: number;
  sinkConcurrency: number;
  commitIntervalMs: number;
  drainTimeoutMs: number;
  /** Port of the metrics and health endpoints; 0 for none. */
  metricsPort: number;
  /** librdkafka settings passed through (SASL, SSL, timeouts). */
  rdkafka: Record<string, string | number | boolean>;
}
