/**
 * The settings of `docpipe run`, from three sources: a config file (YAML or JSON), DOCPIPE_*
 * environment variables and command-line flags — flags over environment over file over the
 * defaults. Every setting has one name in each; all are validated at start-up, and an error
 * names the offending key and the form it expects.
 *
 * @example
 * ```ts
 * const settings = resolveRunSettings({ file: 'docpipe.yaml', env: process.env, flags: { topics: 'a,b' } });
 * ```
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Connection, type RunSettings } from './env.js';
import { parseMapping } from './mappingConfig.js';
import type { Database } from '../../sinks/database.js';

type Kind =
  | 'string'
  | 'password'
  | 'topics'
  | 'table'
  | 'field'
  | 'port'
  | 'portOrOff'
  | 'positive'
  | 'boolean'
  | 'rdkafka'
  | 'client'
  | 'mapping'
  | 'dbPort'
  | 'protocol'
  | 'instanceId';

interface Setting {
  /** Path in the config file, e.g. `db.host`. */
  key: string;
  env: string;
  /** Flag name without dashes, e.g. `db-host`. */
  flag: string;
  kind: Kind;
  default: unknown;
  describe: string;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'kafka.brokers', env: 'DOCPIPE_KAFKA_BROKERS', flag: 'brokers', kind: 'string', default: '127.0.0.1:9092', describe: 'Kafka bootstrap servers' },
  { key: 'kafka.topics', env: 'DOCPIPE_TOPICS', flag: 'topics', kind: 'topics', default: ['documents'], describe: 'topics to consume (comma-separated)' },
  { key: 'kafka.groupId', env: 'DOCPIPE_GROUP_ID', flag: 'group-id', kind: 'string', default: 'docpipe', describe: 'consumer group' },
  {
    key: 'kafka.instanceId',
    env: 'DOCPIPE_INSTANCE_ID',
    flag: 'instance-id',
    kind: 'instanceId',
    default: '',
    describe: "static membership: this member's stable id in the group (e.g. the pod's name); '' for none",
  },
  {
    key: 'kafka.groupProtocol',
    env: 'DOCPIPE_GROUP_PROTOCOL',
    flag: 'group-protocol',
    kind: 'protocol',
    default: 'classic',
    describe: 'consumer group protocol: classic (cooperative-sticky) or consumer (KIP-848)',
  },
  { key: 'kafka.rdkafka', env: 'DOCPIPE_RDKAFKA', flag: 'rdkafka', kind: 'rdkafka', default: {}, describe: 'librdkafka settings (JSON object), e.g. SASL/SSL' },
  {
    key: 'db.client',
    env: 'DOCPIPE_DB_CLIENT',
    flag: 'db-client',
    kind: 'client',
    default: 'mysql',
    describe: 'the database: mysql (MySQL/MariaDB), postgresql or sqlite',
  },
  { key: 'db.host', env: 'DOCPIPE_DB_HOST', flag: 'db-host', kind: 'string', default: '127.0.0.1', describe: 'database host' },
  { key: 'db.port', env: 'DOCPIPE_DB_PORT', flag: 'db-port', kind: 'dbPort', default: 0, describe: "database port (0: the client's own, 3306 or 5432)" },
  { key: 'db.user', env: 'DOCPIPE_DB_USER', flag: 'db-user', kind: 'string', default: 'docpipe', describe: 'database user' },
  { key: 'db.password', env: 'DOCPIPE_DB_PASSWORD', flag: 'db-password', kind: 'password', default: 'docpipe', describe: 'database password' },
  { key: 'db.database', env: 'DOCPIPE_DB_NAME', flag: 'db-name', kind: 'string', default: 'docpipe', describe: 'database name' },
  {
    key: 'db.ssl',
    env: 'DOCPIPE_DB_SSL',
    flag: 'db-ssl',
    kind: 'boolean',
    default: false,
    describe: "TLS to the database server, verified against Node's CA list",
  },
  {
    key: 'db.filename',
    env: 'DOCPIPE_DB_FILE',
    flag: 'db-file',
    kind: 'string',
    default: 'docpipe.db',
    describe: 'the SQLite database file (db.client sqlite)',
  },
  {
    key: 'db.outageTimeoutMs',
    env: 'DOCPIPE_DB_OUTAGE_TIMEOUT_MS',
    flag: 'db-outage-timeout-ms',
    kind: 'positive',
    default: 300_000,
    describe: 'how long the database may fail writes with transient errors (outage, failover, read-only) before docpipe stops',
  },
  {
    key: 'table',
    env: 'DOCPIPE_TABLE',
    flag: 'table',
    kind: 'table',
    default: 'input_data',
    describe: "table to upsert into; ${topic} in it stands for the record's topic (characters other than letters, digits and _ become _)",
  },
  {
    key: 'mapping',
    env: 'DOCPIPE_MAPPING',
    flag: 'mapping',
    kind: 'mapping',
    default: undefined,
    describe: "your table's key and columns (JSON); none: docpipe's own documents into input_data's shape",
  },
  { key: 'autoMigrate', env: 'DOCPIPE_AUTO_MIGRATE', flag: 'auto-migrate', kind: 'boolean', default: true, describe: 'create or upgrade the table at start' },
  {
    key: 'budget.maxRecords',
    env: 'DOCPIPE_MAX_INFLIGHT_RECORDS',
    flag: 'max-inflight-records',
    kind: 'positive',
    default: 5_000,
    describe: 'records fetched but not done, process-wide',
  },
  {
    key: 'budget.maxBytes',
    env: 'DOCPIPE_MAX_INFLIGHT_BYTES',
    flag: 'max-inflight-bytes',
    kind: 'positive',
    default: 32 * 1024 * 1024,
    describe: 'bytes fetched but not done, process-wide',
  },
  {
    key: 'budget.maxPartitionRecords',
    env: 'DOCPIPE_MAX_PARTITION_RECORDS',
    flag: 'max-partition-records',
    kind: 'positive',
    default: 10_000,
    describe: 'records of one partition handed out and not yet committable; the partition pauses there until its oldest is done',
  },
  { key: 'batch.maxRecords', env: 'DOCPIPE_BATCH_RECORDS', flag: 'batch-records', kind: 'positive', default: 1000, describe: 'records per batch at most' },
  { key: 'batch.maxBytes', env: 'DOCPIPE_BATCH_BYTES', flag: 'batch-bytes', kind: 'positive', default: 4 * 1024 * 1024, describe: 'bytes per batch at most' },
  {
    key: 'batch.maxDelayMs',
    env: 'DOCPIPE_BATCH_DELAY_MS',
    flag: 'batch-delay-ms',
    kind: 'positive',
    default: 50,
    describe: 'longest wait for a batch to fill',
  },
  { key: 'sinkConcurrency', env: 'DOCPIPE_SINK_CONCURRENCY', flag: 'sink-concurrency', kind: 'positive', default: 3, describe: 'batches written at once' },
  {
    key: 'decodeInWorker',
    env: 'DOCPIPE_DECODE_IN_WORKER',
    flag: 'decode-in-worker',
    kind: 'boolean',
    default: true,
    describe: 'decode, check and encode documents on a worker thread',
  },
  {
    key: 'deletes',
    env: 'DOCPIPE_DELETES',
    flag: 'deletes',
    kind: 'boolean',
    default: false,
    describe: 'a tombstone (a record without a value, keyed by doc_id) deletes its document',
  },
  {
    key: 'versionField',
    env: 'DOCPIPE_VERSION_FIELD',
    flag: 'version-field',
    kind: 'field',
    default: '',
    describe: "the document field holding its own version (an integer or an RFC 3339 timestamp), which alone decides which is newer; '' for none",
  },
  {
    key: 'commitIntervalMs',
    env: 'DOCPIPE_COMMIT_INTERVAL_MS',
    flag: 'commit-interval-ms',
    kind: 'positive',
    default: 1000,
    describe: 'how often done offsets are committed',
  },
  {
    key: 'metrics.port',
    env: 'DOCPIPE_METRICS_PORT',
    flag: 'metrics-port',
    kind: 'portOrOff',
    default: 9464,
    describe: 'port for /metrics, /healthz and /readyz (0: none)',
  },
  {
    key: 'drainTimeoutMs',
    env: 'DOCPIPE_DRAIN_TIMEOUT_MS',
    flag: 'drain-timeout-ms',
    kind: 'positive',
    default: 30_000,
    describe: 'how long a graceful stop may take',
  },
];

const EXPECTED: Record<Kind, string> = {
  string: 'a non-empty string',
  password: 'a string',
  topics: 'a list of Kafka topic names (or a comma-separated string)',
  table: "1-64 letters, digits, '_' or ${topic}",
  client: 'mysql, postgresql or sqlite',
  mapping: 'a mapping: { key, columns, mode? }',
  field: "a top-level field name of the document (letters, digits or '_', not starting with a digit), or '' for none",
  port: 'a TCP port number (1-65535)',
  portOrOff: 'a TCP port number (1-65535), or 0 for none',
  dbPort: "a TCP port number (1-65535), or 0 for the client's own",
  protocol: 'classic or consumer',
  instanceId: "1-249 letters, digits, '.', '_' or '-', or '' for none",
  positive: 'a whole number greater than 0',
  boolean: 'true or false',
  rdkafka: 'an object of librdkafka settings with string, number or boolean values, e.g. {"session.timeout.ms": 6000}',
};

/** A value given as text (a variable or a flag) that holds JSON, parsed; `bad` when it is not JSON. */
const jsonText = (value: unknown, bad: () => never): unknown => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return bad();
  }
};

/** Converts and checks one value; `fromText` when it came from the environment or a flag. */
const convert = (s: Setting, name: string, value: unknown, fromText: boolean): unknown => {
  const bad = (): never => {
    throw new ConfigError(name, EXPECTED[s.kind], typeof value === 'string' ? value : JSON.stringify(value));
  };
  switch (s.kind) {
    case 'string':
      return typeof value === 'string' && value !== '' ? value : bad();
    case 'password':
      return typeof value === 'string' ? value : bad();
    case 'table':
      return typeof value === 'string' && /^(?:[A-Za-z0-9_]|\$\{topic\})+$/.test(value) && value.replaceAll('${topic}', 'x').length <= 64 ? value : bad();
    case 'protocol':
      return value === 'classic' || value === 'consumer' ? value : bad();
    case 'instanceId':
      return typeof value === 'string' && /^[A-Za-z0-9._-]{0,249}$/.test(value) ? value : bad();
    case 'client':
      if (value === 'mariadb') return 'mysql';
      return value === 'mysql' || value === 'postgresql' || value === 'sqlite' ? value : bad();
    case 'mapping': {
      const obj = fromText ? jsonText(value, bad) : value;
      return parseMapping(obj, name);
    }
    case 'field':
      return typeof value === 'string' && /^(?:[A-Za-z_][A-Za-z0-9_]{0,63})?$/.test(value) ? value : bad();
    case 'topics': {
      const list =
        typeof value === 'string'
          ? value
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean)
          : value;
      if (!Array.isArray(list) || list.length === 0) return bad();
      for (const t of list) {
        if (typeof t !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(t)) throw new ConfigError(name, EXPECTED.topics, String(t));
      }
      return list;
    }
    case 'port':
    case 'portOrOff':
    case 'dbPort':
    case 'positive': {
      const n = fromText && typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      const min = s.kind === 'portOrOff' || s.kind === 'dbPort' ? 0 : 1;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || (s.kind !== 'positive' && n > 65535)) return bad();
      return n;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (fromText && typeof value === 'string') {
        if (/^(1|true|yes)$/i.test(value)) return true;
        if (/^(0|false|no)$/i.test(value)) return false;
      }
      return bad();
    }
    case 'rdkafka': {
      const obj = fromText ? jsonText(value, bad) : value;
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return bad();
      for (const [k, v] of Object.entries(obj)) {
        if (!['string', 'number', 'boolean'].includes(typeof v)) {
          throw new ConfigError(`${name}["${k}"]`, 'a string, number or boolean', JSON.stringify(v));
        }
      }
      return obj;
    }
  }
};

/** Reads a config file; any parse problem names the file. */
export const readConfigFile = (file: string): Record<string, unknown> => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError('--config', 'a readable YAML or JSON file', `${file} (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')})`);
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('--config', 'valid YAML or JSON', `${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('--config', 'a mapping of settings at the top level', file);
  return parsed as Record<string, unknown>;
};

/** Flattens a nested file object to dotted keys, refusing keys docpipe does not know. */
const flattenFile = (obj: Record<string, unknown>, prefix = ''): Map<string, unknown> => {
  const known = new Set(SETTINGS.map((s) => s.key));
  const groups = new Set(SETTINGS.filter((s) => s.key.includes('.')).map((s) => s.key.split('.')[0]!));
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (known.has(key)) out.set(key, v);
    else if (!prefix && groups.has(k) && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [kk, vv] of flattenFile(v as Record<string, unknown>, `${k}.`)) out.set(kk, vv);
    } else {
      const suggestions = SETTINGS.filter((s) => s.key.split('.').pop()!.toLowerCase() === k.toLowerCase()).map((s) => s.key);
      throw new ConfigError(
        `config key "${key}"`,
        'a known setting',
        key,
        `unknown config key "${key}"${suggestions.length ? ` (did you mean ${suggestions.join(' or ')}?)` : '; the known keys are listed in the README'}`,
      );
    }
  }
  return out;
};

export interface SettingSources {
  file?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Flag values by flag name (as strings, the way a command line gives them). */
  flags?: Record<string, string | undefined>;
}

/** Each setting of `settings` from the highest-ranking source that has it. */
const resolve = (sources: SettingSources, settings: readonly Setting[]): ((key: string) => unknown) => {
  const fileValues = sources.file ? flattenFile(readConfigFile(sources.file)) : new Map<string, unknown>();
  const value = new Map<string, unknown>();
  for (const s of settings) {
    const flag = sources.flags?.[s.flag];
    const env = sources.env[s.env];
    let v: unknown;
    if (flag !== undefined) v = convert(s, `--${s.flag}`, flag, true);
    else if (env !== undefined && (env !== '' || s.kind === 'password')) v = convert(s, s.env, env, true);
    else if (fileValues.has(s.key)) v = convert(s, `config key "${s.key}"`, fileValues.get(s.key), false);
    else v = s.default;
    value.set(s.key, v);
  }
  return (key) => value.get(key);
};

const CONNECTION_KEYS = new Set([
  'kafka.brokers',
  'kafka.rdkafka',
  'db.client',
  'db.host',
  'db.port',
  'db.user',
  'db.password',
  'db.database',
  'db.ssl',
  'db.filename',
]);

const connectionOf = (get: (key: string) => unknown): Connection => {
  const client = get('db.client') as 'mysql' | 'postgresql' | 'sqlite';
  const server = {
    host: get('db.host') as string,
    port: (get('db.port') as number) || (client === 'postgresql' ? 5432 : 3306),
    user: get('db.user') as string,
    password: get('db.password') as string,
    database: get('db.database') as string,
  };
  const ssl = get('db.ssl') as boolean;
  const target: Database =
    client === 'sqlite'
      ? { client, filename: get('db.filename') as string }
      : client === 'postgresql'
        ? { client, ...server, ...(ssl && { ssl: true }) }
        : { ...server, ...(ssl && { ssl: true }) };
  return { kafkaBrokers: get('kafka.brokers') as string, rdkafka: get('kafka.rdkafka') as Connection['rdkafka'], db: server, target };
};

/**
 * Just the connection settings, from the environment: what every command but `run` needs
 * (and tests). Same variables, defaults and checks as `run`'s.
 */
export const connectionFromEnv = (env: NodeJS.ProcessEnv): Connection =>
  connectionOf(
    resolve(
      { env },
      SETTINGS.filter((s) => CONNECTION_KEYS.has(s.key)),
    ),
  );

export const resolveRunSettings = (sources: SettingSources): RunSettings => {
  const lookup = resolve(sources, SETTINGS);
  const get = <T>(key: string) => lookup(key) as T;
  return {
    ...connectionOf(lookup),
    topics: get('kafka.topics'),
    groupId: get('kafka.groupId'),
    instanceId: get<string>('kafka.instanceId') || undefined,
    groupProtocol: get('kafka.groupProtocol'),
    outageTimeoutMs: get('db.outageTimeoutMs'),
    table: get('table'),
    mapping: get('mapping'),
    autoMigrate: get('autoMigrate'),
    maxInFlightRecords: get('budget.maxRecords'),
    maxInFlightBytes: get('budget.maxBytes'),
    maxPartitionRecords: get('budget.maxPartitionRecords'),
    batchRecords: get('batch.maxRecords'),
    batchBytes: get('batch.maxBytes'),
    batchDelayMs: get('batch.maxDelayMs'),
    sinkConcurrency: get('sinkConcurrency'),
    decodeInWorker: get('decodeInWorker'),
    deletes: get('deletes'),
    versionField: get<string>('versionField') || undefined,
    commitIntervalMs: get('commitIntervalMs'),
    drainTimeoutMs: get('drainTimeoutMs'),
    metricsPort: get('metrics.port'),
  };
};
