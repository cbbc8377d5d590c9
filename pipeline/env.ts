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
  ) {
    super(`${key} must be ${expected}, got ${JSON.stringify(got)}`);
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

/** Pipeline settings read from the environment by `docpipe run`; see the README for each. */
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
  /** librdkafka settings passed through (SASL, SSL, timeouts), from DOCPIPE_RDKAFKA as JSON. */
  rdkafka: Record<string, string | number | boolean>;
}

const rdkafkaSettings = (env: NodeJS.ProcessEnv): Record<string, string | number | boolean> => {
  const raw = env['DOCPIPE_RDKAFKA'];
  if (raw === undefined || raw === '') return {};
  const expected = 'a JSON object of librdkafka settings, e.g. {"session.timeout.ms": 6000}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('DOCPIPE_RDKAFKA', expected, raw);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('DOCPIPE_RDKAFKA', expected, raw);
  for (const [k, v] of Object.entries(parsed)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) {
      throw new ConfigError(`DOCPIPE_RDKAFKA["${k}"]`, 'a string, number or boolean', JSON.stringify(v));
    }
  }
  return parsed as Record<string, string | number | boolean>;
};

const positive = (env: NodeJS.ProcessEnv, key: string, fallback: number): number => {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(key, 'a whole number greater than 0', raw);
  return n;
};

const flag = (env: NodeJS.ProcessEnv, key: string, fallback: boolean): boolean => {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(key, 'true or false', raw);
};

export const runSettingsFromEnv = (env: NodeJS.ProcessEnv): RunSettings => {
  const topics = text(env, 'DOCPIPE_TOPICS', 'documents')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of topics) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(t)) throw new ConfigError('DOCPIPE_TOPICS', 'comma-separated Kafka topic names', t);
  }
  const table = text(env, 'DOCPIPE_TABLE', 'input_data');
  if (!/^[A-Za-z0-9_]{1,64}$/.test(table)) throw new ConfigError('DOCPIPE_TABLE', "1-64 letters, digits or '_'", table);
  return {
    ...connectionFromEnv(env),
    topics,
    groupId: text(env, 'DOCPIPE_GROUP_ID', 'docpipe'),
    table,
    autoMigrate: flag(env, 'DOCPIPE_AUTO_MIGRATE', true),
    maxInFlightRecords: positive(env, 'DOCPIPE_MAX_INFLIGHT_RECORDS', 10_000),
    maxInFlightBytes: positive(env, 'DOCPIPE_MAX_INFLIGHT_BYTES', 32 * 1024 * 1024),
    batchRecords: positive(env, 'DOCPIPE_BATCH_RECORDS', 2000),
    batchBytes: positive(env, 'DOCPIPE_BATCH_BYTES', 4 * 1024 * 1024),
    batchDelayMs: positive(env, 'DOCPIPE_BATCH_DELAY_MS', 50),
    sinkConcurrency: positive(env, 'DOCPIPE_SINK_CONCURRENCY', 2),
    commitIntervalMs: positive(env, 'DOCPIPE_COMMIT_INTERVAL_MS', 1000),
    drainTimeoutMs: positive(env, 'DOCPIPE_DRAIN_TIMEOUT_MS', 30_000),
    rdkafka: rdkafkaSettings(env),
  };
};
