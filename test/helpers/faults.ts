// The fault-injection harness: documents whose acknowledgements are recorded one by one, docpipe
// run as real child processes whose memory is sampled, and the check Kafka's own system tests
// make — the acknowledged set against the stored set (table rows plus dead letters).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Kafka, { type GroupResults, type KafkaConsumer, type Message } from '@confluentinc/kafka-javascript';
import knex, { type Knex } from 'knex';
import type { Test } from 'tap';
import { disconnectProducer } from '../../pipeline/kafka/disconnectProducer.js';
import { DocumentProducer } from '../../pipeline/kafka/documentProducer.js';
import { DLQ_HEADERS } from '../../sinks/deadLetterWriter.js';
import { isNewer, type RowVersion } from '../../sinks/versionRule.js';
import { db as sharedDb, kafkaBrokers as sharedBrokers, uniqueName, type Teardown } from './stack.js';
import { signalTree, treeRssMb } from './processTree.js';
import { spawnClean, userEnv } from './spawnClean.js';
import { waitFor } from './wait.js';

const root = resolve(import.meta.dirname, '../..');

/**
 * The docpipe command (bin/docpipe) with docpipe compiled from the current sources beside it, laid
 * out as the package ships them, so members start as a user starts them. The TypeScript loader
 * the other process tests use holds the compiler in memory (about 390 MB idle, against 90 MB
 * for the compiled CLI), which would swamp the memory figure this suite measures. Builds are
 * cached by a hash of the sources, inside node_modules so the compiled files resolve the
 * dependencies, and never in dist/, which others build into.
 */
export const compiledCli = (): string => {
  const cache = resolve(root, 'node_modules/.cache/docpipe-faults');
  // DOCPIPE_FAULTS_REV (e.g. HEAD) tests a committed revision instead of the working tree,
  // which may hold someone's unfinished changes.
  const rev = process.env.DOCPIPE_FAULTS_REV;
  let out: string;
  let sources = root;
  if (rev) {
    const sha = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: root })
      .toString()
      .trim();
    out = join(cache, `rev-${sha.slice(0, 16)}`);
    if (!existsSync(join(out, 'bin/docpipe'))) {
      sources = `${out}.src.${process.pid}`;
      rmSync(sources, { recursive: true, force: true });
      mkdirSync(sources, { recursive: true });
      const files = ['bin', 'pipeline', 'operators', 'sinks', 'bench', 'test/helpers', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
      execFileSync('sh', ['-c', `git archive "$0" "$@" | tar -x -C "${sources}"`, sha, ...files], { cwd: root });
    }
  } else {
    const hash = createHash('sha256');
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.name.endsWith('.ts')) hash.update(path).update(readFileSync(path));
      }
    };
    for (const dir of ['pipeline', 'operators', 'sinks']) walk(resolve(root, dir));
    for (const file of ['bin/docpipe', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) hash.update(readFileSync(resolve(root, file)));
    out = join(cache, hash.digest('hex').slice(0, 16));
  }
  const command = join(out, 'bin/docpipe');
  if (!existsSync(command)) {
    const tmp = `${out}.${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(tmp, 'dist'), '--noCheck'], { cwd: sources, stdio: 'pipe' });
    mkdirSync(join(tmp, 'bin'));
    copyFileSync(join(sources, 'bin/docpipe'), join(tmp, 'bin/docpipe'));
    chmodSync(join(tmp, 'bin/docpipe'), 0o755);
    try {
      renameSync(tmp, out);
    } catch {
      // Another run finished the same build first.
      rmSync(tmp, { recursive: true, force: true });
    }
    if (sources !== root) rmSync(sources, { recursive: true, force: true });
  }
  return command;
};

/**
 * The memory bound the README documents for one docpipe process started as it ships: the
 * docpipe command gives Node heap limits derived from the in-flight budget. Without them V8
 * grows its heap lazily on a machine with memory to spare, and a fast backlog takes RSS to
 * 300-370 MB.
 */
export const RSS_BUDGET_MB = 256;

export interface DbConnection {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** What one fault test runs against: its own topic, group and database. */
export interface Scenario {
  fault: string;
  brokers: string;
  topic: string;
  partitions: number;
  groupId: string;
  db: DbConnection;
  database: string;
  /** A pool on the scenario's database (exact 64-bit integers as strings). */
  knex: Knex;
  /** librdkafka settings every client of this scenario needs (e.g. SASL). */
  rdkafka: Record<string, string | number | boolean>;
  ledger: Ledger;
  members: Member[];
}

export interface ScenarioOptions {
  brokers?: string;
  db?: DbConnection;
  partitions?: number;
  topicConfig?: Record<string, string>;
  rdkafka?: Record<string, string | number | boolean>;
  /** A shared broker's topics are deleted afterwards; a private one goes away by itself. */
  keepTopic?: boolean;
}

const adminFor = (brokers: string, rdkafka: Record<string, string | number | boolean>) =>
  Kafka.AdminClient.create({ 'bootstrap.servers': brokers, log_level: 0, ...rdkafka });

/** A topic, a database and a group of their own; all removed when the test ends. */
export const scenario = async (t: Teardown, fault: string, options: ScenarioOptions = {}): Promise<Scenario> => {
  const brokers = options.brokers ?? sharedBrokers;
  const rdkafka = options.rdkafka ?? {};
  const partitions = options.partitions ?? 3;
  const topic = uniqueName(`fault_${fault.replace(/[^a-z0-9]/gi, '_')}`);
  const admin = adminFor(brokers, rdkafka);
  await new Promise<void>((ok, fail) =>
    admin.createTopic({ topic, num_partitions: partitions, replication_factor: -1, config: options.topicConfig ?? {} }, 20_000, (err) =>
      err ? fail(err) : ok(),
    ),
  );
  t.teardown(
    () =>
      new Promise<void>((done) => {
        const finish = () => {
          admin.disconnect();
          done();
        };
        if (options.keepTopic) finish();
        else admin.deleteTopic(`${topic}.dlq`, 10_000, () => admin.deleteTopic(topic, 10_000, finish));
      }),
  );

  const conn = options.db ?? { host: sharedDb.host, port: sharedDb.port, user: sharedDb.user, password: sharedDb.password };
  const database = uniqueName(`${sharedDb.database}_f`);
  const adminDb = knex({ client: 'mysql2', connection: { ...conn } });
  await adminDb.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [database]);
  const pool = knex({
    client: 'mysql2',
    connection: { ...conn, database, charset: 'utf8mb4', supportBigNumbers: true, bigNumberStrings: true },
    pool: { min: 0, max: 4 },
  });
  const s: Scenario = {
    fault,
    brokers,
    topic,
    partitions,
    groupId: uniqueName('fault_g'),
    db: conn,
    database,
    knex: pool,
    rdkafka,
    ledger: new Ledger(),
    members: [],
  };
  t.teardown(async () => {
    await s.ledger.close();
    for (const m of s.members) m.kill();
    await Promise.all(s.members.map((m) => m.exited));
    await pool.destroy();
    // A private server may already be gone: nothing to drop then.
    await adminDb.raw('DROP DATABASE IF EXISTS ??', [database]).catch(() => {});
    await adminDb.destroy();
  });
  return s;
};

// ---- documents and their acknowledgements -------------------------------------------------

export interface AckedRecord {
  key: string;
  partition: number;
  offset: number;
  /** `row`: a valid document that must end in the table; `dead`: must be dead-lettered. */
  expect: 'row' | 'dead';
  /** For rows: the fields the table must hold when this is the latest version. */
  title?: string;
  body?: string;
}

export const docJson = (docId: bigint | number | string, title: string, body: string): string =>
  `{"doc_id": ${String(docId)}, "title": ${JSON.stringify(title)}, "body": ${JSON.stringify(body)}}`;

export interface Outgoing {
  key: string;
  value: string | Buffer | null;
  expect: 'row' | 'dead';
  title?: string;
  body?: string;
}

/** Versioned documents: `doc_id` = id, title `v<version> <id>`, a body of about `bodyBytes`. */
export const documents = (ids: Iterable<number>, version = 1, bodyBytes = 500): Outgoing[] => {
  const out: Outgoing[] = [];
  for (const id of ids) {
    const title = `v${version} ${id}`;
    const body = `${id}:`.padEnd(bodyBytes, 'x');
    out.push({ key: String(id), value: docJson(id, title, body), expect: 'row', title, body });
  }
  return out;
};

export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Every record sent, and which of them Kafka acknowledged, with where they landed. */
export class Ledger {
  produced = 0;
  readonly acked: AckedRecord[] = [];
  readonly failures: string[] = [];

  get acknowledged(): number {
    return this.acked.length;
  }

  private producer: Promise<DocumentProducer> | undefined;

  /**
   * Sends `records` through docpipe's own producer (idempotent, acks=all); records each
   * acknowledgement. One producer serves every send of a scenario, as in a producing
   * application: each native client opened and closed in the test's process is one more
   * chance at the binding's crashes around close. The first send opens it, with its
   * `maxPending`.
   */
  async send(s: Pick<Scenario, 'brokers' | 'topic' | 'rdkafka'>, records: readonly Outgoing[], maxPending = 5000): Promise<void> {
    this.producer ??= Ledger.openProducer(s, maxPending);
    const producer = await this.producer.catch((err: unknown) => {
      this.producer = undefined;
      throw err;
    });
    await Promise.all(
      records.map(async (r) => {
        this.produced++;
        try {
          const d = await producer.send(s.topic, r.value, r.key);
          const rec: AckedRecord = { key: r.key, partition: d.partition, offset: d.offset, expect: r.expect };
          if (r.title !== undefined) rec.title = r.title;
          if (r.body !== undefined) rec.body = r.body;
          this.acked.push(rec);
        } catch (err) {
          this.failures.push(`${r.key}: ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Closes the producer, if a send opened one. */
  async close(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined);
    this.producer = undefined;
    await producer?.close();
  }

  private static async openProducer(s: Pick<Scenario, 'brokers' | 'rdkafka'>, maxPending: number): Promise<DocumentProducer> {
    const options = {
      brokers: s.brokers,
      maxPending,
      rdkafka: { 'message.max.bytes': 32 * 1024 * 1024, 'message.timeout.ms': 120_000, log_level: 0, ...s.rdkafka },
    };
    // Sends often start while a broker is being failed on purpose: connecting is retried for
    // a while, as a producing application would.
    const producer = await waitFor(() => DocumentProducer.open(options).catch(() => undefined), 'the test producer to connect', 90_000, 1000);
    if (!producer) throw new Error('waitFor resolved without a producer');
    return producer;
  }

  /** The latest acknowledged version of each document that must be a row (the highest offset wins). */
  latestRows(): Map<string, AckedRecord> {
    const latest = new Map<string, AckedRecord>();
    for (const r of this.acked) {
      if (r.expect !== 'row') continue;
      const have = latest.get(r.key);
      if (!have || r.offset > have.offset) latest.set(r.key, r);
    }
    return latest;
  }
}

// ---- docpipe processes --------------------------------------------------------------------

export class Member {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Largest resident set seen (VmRSS, and the kernel's peak VmHWM), in MB. */
  maxRssMb = 0;
  /** When the process was started (after the command was built, which can take a while). */
  readonly started: number;
  private log = '';
  private readonly sampler: NodeJS.Timeout;

  constructor(env: Record<string, string>) {
    // Started as a user starts it: the test runner's variables and Node options (its loaders
    // and process tracker) stay out.
    const command = compiledCli();
    this.child = spawnClean(command, ['run'], { ...userEnv(), ...env }, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.started = Date.now();
    const keep = (d: Buffer) => {
      this.log += d.toString();
      // Debug logs can be large: keep the recent part, enough to explain a failure.
      if (this.log.length > 4_000_000) this.log = this.log.slice(-2_000_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.sampler = setInterval(() => this.sample(), 100);
    this.exited = new Promise((done) =>
      this.child.on('exit', (code, signal) => {
        clearInterval(this.sampler);
        done(signal ? null : code);
      }),
    );
  }

  private sample(): void {
    // The command's shell and Node beside it; VmHWM is the kernel's own peak of VmRSS, which
    // catches peaks between two samples.
    const { rss, peak } = treeRssMb(this.child.pid!);
    this.maxRssMb = Math.max(this.maxRssMb, rss, peak);
  }

  metricsPort: number | undefined;

  /** Resolves once the process serves /healthz, which it does only after its start-up. */
  async ready(timeoutMs = 120_000): Promise<void> {
    if (!this.metricsPort) throw new Error('ready() needs a member started with a metrics port');
    await waitFor(
      async () => {
        assertAlive(this);
        return fetch(`http://127.0.0.1:${this.metricsPort}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      'docpipe to finish its start-up',
      timeoutMs,
      200,
    );
  }

  /** The sum of one metric's samples from /metrics (undefined when it cannot be read). */
  async metric(name: string): Promise<number | undefined> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
      let sum: number | undefined;
      for (const line of text.split('\n')) {
        const m = /^(\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
        if (m?.[1] === name) sum = (sum ?? 0) + Number(m[2]);
      }
      return sum;
    } catch {
      return undefined;
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(tail = 6000): string {
    return this.log.slice(-tail);
  }

  fullOutput(): string {
    return this.log;
  }

  /**
   * SIGKILL ends the command and Node at once, as a crash or the OOM killer would; other
   * signals go to the command, as a user's or a container runtime's do.
   */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.running) return;
    if (signal === 'SIGKILL') signalTree(this.child.pid!, signal);
    else this.child.kill(signal);
  }

  /**
   * Sends SIGTERM; resolves with the exit code and how long the exit took. A process still
   * running after `giveUpMs` is killed and reported as `hung` (code null), so that a stop that
   * never ends fails the test with its log instead of timing it out.
   */
  async terminate(giveUpMs = 90_000): Promise<{ code: number | null; ms: number; hung: boolean }> {
    const at = Date.now();
    this.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const hung = await Promise.race([this.exited.then(() => false), new Promise<boolean>((done) => (timer = setTimeout(() => done(true), giveUpMs)))]);
    clearTimeout(timer);
    const ms = Date.now() - at;
    if (hung) this.kill('SIGKILL');
    return { code: await this.exited, ms, hung };
  }
}

export interface MemberOptions {
  env?: Record<string, string>;
  rdkafka?: Record<string, string | number | boolean>;
  /** Serve /healthz and /metrics on this port, so that `ready()` and `metric()` work. */
  metricsPort?: number;
  /**
   * The group's session settings as they ship (librdkafka's, or the broker's with the consumer
   * protocol), instead of the suite's short session that makes a killed member's partitions
   * come free sooner.
   */
  shippedSession?: boolean;
}

/** Starts `docpipe run` on the scenario's topic and database. */
export const startMember = (s: Scenario, options: MemberOptions = {}): Member => {
  const member = new Member({
    DOCPIPE_LOG_LEVEL: 'warn',
    DOCPIPE_METRICS_PORT: '0',
    DOCPIPE_KAFKA_BROKERS: s.brokers,
    DOCPIPE_TOPICS: s.topic,
    DOCPIPE_GROUP_ID: s.groupId,
    DOCPIPE_DB_HOST: s.db.host,
    DOCPIPE_DB_PORT: String(s.db.port),
    DOCPIPE_DB_USER: s.db.user,
    DOCPIPE_DB_PASSWORD: s.db.password,
    DOCPIPE_DB_NAME: s.database,
    DOCPIPE_COMMIT_INTERVAL_MS: '200',
    DOCPIPE_BATCH_RECORDS: '250',
    // A killed member holds its partitions until its session times out: keep that short.
    DOCPIPE_RDKAFKA: JSON.stringify({
      ...(!options.shippedSession && { 'session.timeout.ms': 10_000, 'heartbeat.interval.ms': 1000 }),
      ...s.rdkafka,
      ...options.rdkafka,
    }),
    ...options.env,
    ...(options.metricsPort && { DOCPIPE_METRICS_PORT: String(options.metricsPort) }),
  });
  if (options.metricsPort) member.metricsPort = options.metricsPort;
  s.members.push(member);
  return member;
};

/** Fails fast when a member died instead of letting a wait time out without a reason. */
export const assertAlive = (...members: Member[]): void => {
  for (const m of members) {
    if (!m.running) throw new Error(`a docpipe member exited early (code ${String(m.child.exitCode)}):\n${m.output()}`);
  }
};

// ---- the stored set -----------------------------------------------------------------------

export interface StoredRow {
  doc_id: string;
  title: string;
  body: string;
  src_partition: number;
  src_offset: string;
}

export const tableExists = async (s: Scenario): Promise<boolean> => {
  const [rows] = (await s.knex.raw('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [s.database, 'input_data'])) as [
    unknown[],
  ];
  return rows.length > 0;
};

export const rowCount = async (s: Scenario): Promise<number> => {
  if (!(await tableExists(s))) return 0;
  const [[r]] = (await s.knex.raw('SELECT COUNT(*) AS n FROM input_data')) as [[{ n: string }]];
  return Number(r.n);
};

const storedRows = async (s: Scenario): Promise<StoredRow[]> => {
  if (!(await tableExists(s))) return [];
  return await s.knex('input_data').select<StoredRow[]>('doc_id', 'title', 'body', 'src_partition', 'src_offset');
};

export interface DeadLetter {
  key: string | null;
  partition: number;
  offset: number;
  errorClass: string | undefined;
  reason: string | undefined;
  message: Message;
}

const header = (m: Message, key: string): string | undefined => {
  for (const h of m.headers ?? []) if (key in h) return String(h[key]);
  return undefined;
};

const connectConsumer = async (s: Pick<Scenario, 'brokers' | 'rdkafka'>, groupId: string): Promise<KafkaConsumer> => {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': s.brokers, 'group.id': groupId, 'enable.auto.commit': false, log_level: 0, ...s.rdkafka },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((ok, fail) => consumer.connect({ timeout: 20_000 }, (err) => (err ? fail(err) : ok())));
  return consumer;
};

/** Every message of a topic up to its current end (an empty list when the topic does not exist). */
export const readTopic = async (s: Pick<Scenario, 'brokers' | 'rdkafka'>, topic: string, timeoutMs = 60_000): Promise<Message[]> => {
  const consumer = await connectConsumer(s, uniqueName('fault_reader'));
  try {
    const meta = await new Promise<{ topics: { name: string; partitions: { id: number }[] }[] }>((ok, fail) => {
      consumer.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? fail(err) : ok(m)));
    });
    const partitions = meta.topics.find((x) => x.name === topic)?.partitions ?? [];
    if (partitions.length === 0) return [];
    const ends = new Map<number, number>();
    for (const p of partitions) {
      const high = await new Promise<number>((ok, fail) => {
        consumer.queryWatermarkOffsets(topic, p.id, 10_000, (err, o) => (err ? fail(err) : ok(o.highOffset)));
      });
      if (high > 0) ends.set(p.id, high);
    }
    if (ends.size === 0) return [];
    consumer.assign([...ends.keys()].map((partition) => ({ topic, partition, offset: 0 })));
    consumer.setDefaultConsumeTimeout(200);
    const out: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    const reached = new Map<number, number>();
    while ([...ends].some(([p, end]) => (reached.get(p) ?? 0) < end)) {
      if (Date.now() > deadline) throw new Error(`reading ${topic} to its end timed out`);
      const batch = await new Promise<Message[]>((ok, fail) => consumer.consume(1000, (err, m) => (err ? fail(err) : ok(m))));
      for (const m of batch) {
        out.push(m);
        reached.set(m.partition, m.offset + 1);
      }
    }
    return out;
  } finally {
    await new Promise<void>((done) => consumer.disconnect(() => done()));
  }
};

export const deadLetters = async (s: Scenario): Promise<DeadLetter[]> =>
  (await readTopic(s, `${s.topic}.dlq`))
    .filter((m) => header(m, DLQ_HEADERS.topic) === s.topic)
    .map((m) => ({
      key: m.key === null || m.key === undefined ? null : m.key.toString(),
      partition: Number(header(m, DLQ_HEADERS.partition)),
      offset: Number(header(m, DLQ_HEADERS.offset)),
      errorClass: header(m, DLQ_HEADERS.errorClass),
      reason: header(m, DLQ_HEADERS.message),
      message: m,
    }));

/** Kafka's answer while a coordinator is elected or still loading its offsets, e.g. just after a broker restart. */
const COORDINATOR_NOT_READY = new Set([14, 15, 16]); // COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR

const coordinatorNotReady = (err: unknown): boolean => {
  const e = err as { code?: unknown; isRetriable?: unknown };
  return e.isRetriable === true || (typeof e.code === 'number' && COORDINATOR_NOT_READY.has(e.code));
};

/**
 * The group's committed offset per partition, through the admin API (-1 where none). A broker
 * just started answers "coordinator loading" until it has read __consumer_offsets back; that is
 * asked again until `timeoutMs`, since what the test wants is the offsets, not the broker's warm-up.
 * Each attempt has a client of its own: in one CI run, a retry on the client whose request had
 * just failed after a broker restart hung the test for 600 s. The request's own 10 s timeout
 * is what ends a request; the 15 s deadline only makes a missing answer a retriable failure
 * (the binding holds the client's lock for a whole admin request, and `disconnect` waits for it).
 */
export const committedOffsets = async (s: Scenario, timeoutMs = 60_000): Promise<number[]> => {
  const partitions = Array.from({ length: s.partitions }, (_, partition) => ({ topic: s.topic, partition }));
  const once = async (): Promise<GroupResults | undefined> => {
    const admin = adminFor(s.brokers, s.rdkafka);
    let timer: NodeJS.Timeout | undefined;
    try {
      const [result] = await new Promise<GroupResults[]>((ok, fail) => {
        timer = setTimeout(() => fail(Object.assign(new Error(`no answer about ${s.groupId}'s offsets within 15 s`), { isRetriable: true })), 15_000);
        admin.listConsumerGroupOffsets([{ groupId: s.groupId, partitions }], { timeout: 10_000 }, (err, r) => (err ? fail(err) : ok(r)));
      });
      if (result?.error) {
        throw Object.assign(new Error(`cannot read the committed offsets of ${s.groupId}: ${result.error.message}`), {
          code: result.error.code,
          isRetriable: result.error.isRetriable,
        });
      }
      return result;
    } finally {
      clearTimeout(timer);
      admin.disconnect();
    }
  };
  const { result } = (await waitFor(
    () =>
      once().then(
        (answer) => ({ result: answer }),
        (err: unknown) => {
          if (!coordinatorNotReady(err)) throw err;
          return undefined;
        },
      ),
    `the committed offsets of ${s.groupId} (the coordinator kept answering "not ready")`,
    timeoutMs,
    500,
  ))!;
  return partitions.map((tp) => {
    const o = result?.partitions.find((r) => r.partition === tp.partition)?.offset;
    return o === undefined || o < 0 ? -1 : o;
  });
};

export interface Verdict {
  /** Acknowledged records neither in the table (at their latest version) nor dead-lettered with a reason. */
  lost: string[];
  /** Rows beyond one per doc_id. */
  duplicates: number;
  /** Rows holding something other than the latest acknowledged version. */
  stale: string[];
  /** Records below a committed offset that were not yet written or dead-lettered. */
  committedAhead: string[];
  rows: number;
  deadLetters: DeadLetter[];
  committed: number[];
}

/**
 * The acknowledged set against the stored set. Committed offsets are read first, so a record
 * below a committed offset that is missing from the table or the dead-letter topic read
 * afterwards was committed before it was done.
 */
export const examine = async (s: Scenario): Promise<Verdict> => {
  const committed = await committedOffsets(s);
  const rows = await storedRows(s);
  const dead = await deadLetters(s);
  const byDoc = new Map<string, StoredRow>();
  let duplicates = 0;
  for (const r of rows) {
    if (byDoc.has(r.doc_id)) duplicates++;
    byDoc.set(r.doc_id, r);
  }
  const deadAt = new Set(dead.filter((d) => d.errorClass && d.reason).map((d) => `${d.partition}/${d.offset}`));
  const latest = s.ledger.latestRows();
  const lost: string[] = [];
  const stale: string[] = [];
  for (const r of s.ledger.acked) {
    const at = `${r.partition}/${r.offset}`;
    if (r.expect === 'dead') {
      if (!deadAt.has(at)) lost.push(`${r.key}@${at} (expected a dead letter)`);
      continue;
    }
    if (latest.get(r.key) !== r) continue;
    const row = byDoc.get(r.key);
    if (!row) {
      if (!deadAt.has(at)) lost.push(`${r.key}@${at}`);
    } else if (row.src_partition !== r.partition || Number(row.src_offset) !== r.offset || row.title !== r.title || row.body !== r.body) {
      stale.push(
        `${r.key}: row from ${row.src_partition}/${row.src_offset} "${row.title.slice(0, 40)}", latest acknowledged ${at} "${String(r.title).slice(0, 40)}"`,
      );
    }
  }
  const committedAhead: string[] = [];
  for (const r of s.ledger.acked) {
    const c = committed[r.partition] ?? -1;
    if (r.offset >= c) continue;
    const at = `${r.partition}/${r.offset}`;
    const row = r.expect === 'row' ? byDoc.get(r.key) : undefined;
    // A newer version of the document written at a later offset covers this one.
    const written = row !== undefined && row.src_partition === r.partition && Number(row.src_offset) >= r.offset;
    if (!written && !deadAt.has(at)) committedAhead.push(`${r.key}@${at} below committed ${c}`);
  }
  return { lost, duplicates, stale, committedAhead, rows: rows.length, deadLetters: dead, committed };
};

/** Waits until every acknowledged record is stored and the committed offsets reach the end. */
export const waitForAllStored = async (s: Scenario, timeoutMs = 180_000, alive: Member[] = []): Promise<void> => {
  const latest = s.ledger.latestRows();
  const deadExpected = s.ledger.acked.filter((r) => r.expect === 'dead').length;
  const ends = new Array<number>(s.partitions).fill(0);
  for (const r of s.ledger.acked) ends[r.partition] = Math.max(ends[r.partition] ?? 0, r.offset + 1);
  await waitFor(
    async () => {
      assertAlive(...alive);
      if ((await rowCount(s)) < latest.size) return false;
      const committed = await committedOffsets(s);
      if (committed.some((c, p) => c < (ends[p] ?? 0))) return false;
      return deadExpected === 0 || (await deadLetters(s)).length >= deadExpected;
    },
    `all ${s.ledger.acknowledged} acknowledged records stored and committed`,
    timeoutMs,
    500,
  );
};

export interface Figures {
  fault: string;
  produced: number;
  acknowledged: number;
  lost: number;
  duplicates: number;
  deadLettered: number;
  maxRssMb: number;
  rssBudgetMb: number;
  members: number;
  /** Restart to first new row, where the fault measures it. */
  resumeSeconds?: number;
}

/** The tap object slice the verdict needs. */
type Asserts = Pick<Test, 'equal' | 'same' | 'ok' | 'comment'>;

/**
 * Asserts the delivery guarantee and the memory bound, and reports the figures as a tap comment
 * (`# fault-figures {...}`) and, when DOCPIPE_FAULT_FIGURES names a file, as a JSON line there.
 */
export const verifyDelivery = async (t: Asserts, s: Scenario, extra: Pick<Figures, 'resumeSeconds'> = {}): Promise<Verdict> => {
  const v = await examine(s);
  const maxRssMb = Math.round(Math.max(0, ...s.members.map((m) => m.maxRssMb)));
  t.same(s.ledger.failures.slice(0, 5), [], 'every produced record was acknowledged');
  t.ok(s.ledger.acknowledged > 0, `${s.ledger.acknowledged} records acknowledged`);
  t.same(v.lost.slice(0, 10), [], `no acknowledged record lost (${v.lost.length} lost)`);
  t.equal(v.duplicates, 0, 'one row per doc_id');
  t.same(v.stale.slice(0, 10), [], `every row holds its latest acknowledged version (${v.stale.length} stale)`);
  t.equal(v.rows, s.ledger.latestRows().size, 'no rows beyond the acknowledged documents');
  t.same(v.committedAhead.slice(0, 10), [], 'no committed offset beyond what was written or dead-lettered');
  t.ok(maxRssMb > 0 && maxRssMb <= RSS_BUDGET_MB, `largest docpipe RSS ${maxRssMb} MB within ${RSS_BUDGET_MB} MB`);
  const figures: Figures = {
    fault: s.fault,
    produced: s.ledger.produced,
    acknowledged: s.ledger.acknowledged,
    lost: v.lost.length,
    duplicates: v.duplicates,
    deadLettered: v.deadLetters.length,
    maxRssMb,
    rssBudgetMb: RSS_BUDGET_MB,
    members: s.members.length,
    ...extra,
  };
  t.comment(`fault-figures ${JSON.stringify(figures)}`);
  if (process.env.DOCPIPE_FAULT_FIGURES) appendFileSync(process.env.DOCPIPE_FAULT_FIGURES, `${JSON.stringify(figures)}\n`);
  return v;
};

/** Checks, at one moment (e.g. right after a kill), that nothing was committed before it was done. */
export const checkCommitsBehindWrites = async (t: Asserts, s: Scenario, when: string): Promise<number[]> => {
  const v = await examine(s);
  t.same(v.committedAhead.slice(0, 10), [], `${when}: committed offsets ${JSON.stringify(v.committed)} cover only written or dead-lettered records`);
  return v.committed;
};

export { waitFor, uniqueName };

// ---- versions on chosen partitions, at chosen timestamps ----------------------------------

/** A record sent to a partition of the test's choosing, with a Kafka timestamp of its choosing. */
export interface PositionedRecord {
  key: string;
  partition: number;
  /** Kafka timestamp in ms since the epoch. */
  timestamp: number;
  /** The document's JSON, or `null` for a tombstone. */
  value: string | null;
  /** For documents: the fields the table must hold when this is the latest version. */
  title?: string;
  body?: string;
}

/** What the broker acknowledged for a {@link PositionedRecord}: where it landed and its timestamp. */
export interface AckedPosition extends PositionedRecord {
  topic: string;
  offset: number;
  /** The timestamp this record was sent with (`timestamp` is the one acknowledged). */
  sentTimestamp: number;
}

/**
 * Sends records to explicit partitions with explicit timestamps (idempotent, acks=all, like
 * docpipe's own producer) and records each acknowledgement with the topic, partition, offset
 * and timestamp of the delivery report — what the broker has, not what was asked for.
 */
export class PositionLedger {
  produced = 0;
  readonly acked: AckedPosition[] = [];
  readonly failures: string[] = [];

  private constructor(
    private readonly producer: Kafka.Producer,
    private readonly topic: string,
  ) {
    producer.on('delivery-report', (err, report) => {
      const waiter = report.opaque as { resolve: (r: Kafka.DeliveryReport) => void; reject: (e: Error) => void };
      if (err) waiter.reject(new Error(`${err.message} (code ${err.code})`));
      else waiter.resolve(report);
    });
  }

  static async open(s: Pick<Scenario, 'brokers' | 'topic' | 'rdkafka'>): Promise<PositionLedger> {
    const connect = async (): Promise<Kafka.Producer | undefined> => {
      const producer = new Kafka.Producer({
        'bootstrap.servers': s.brokers,
        dr_cb: true,
        'enable.idempotence': true,
        acks: -1,
        'linger.ms': 5,
        'message.timeout.ms': 120_000,
        log_level: 0,
        ...s.rdkafka,
      });
      return new Promise((done) =>
        producer.connect({ timeout: 10_000 }, (err) => {
          if (!err) return done(producer);
          producer.disconnect(() => done(undefined));
        }),
      );
    };
    const producer = await waitFor(connect, 'the test producer to connect', 90_000, 1000);
    if (!producer) throw new Error('waitFor resolved without a producer');
    producer.setPollInterval(10);
    return new PositionLedger(producer, s.topic);
  }

  /** Sends `records` in order; resolves once each is acknowledged or has failed (see `failures`). */
  async send(records: readonly PositionedRecord[]): Promise<void> {
    await Promise.all(
      records.map(async (r) => {
        this.produced++;
        try {
          const report = await new Promise<Kafka.DeliveryReport>((resolve, reject) => {
            const value = r.value === null ? null : Buffer.from(r.value);
            this.producer.produce(this.topic, r.partition, value, r.key, r.timestamp, { resolve, reject });
          });
          if (report.timestamp === undefined || report.timestamp < 0) throw new Error('the delivery report has no timestamp');
          this.acked.push({
            ...r,
            topic: report.topic,
            partition: report.partition,
            offset: report.offset,
            timestamp: report.timestamp,
            sentTimestamp: r.timestamp,
          });
        } catch (err) {
          this.failures.push(`${r.key}@${r.partition}: ${(err as Error).message}`);
        }
      }),
    );
  }

  async close(): Promise<void> {
    await disconnectProducer(this.producer, 30_000);
  }

  /** The version of an acknowledged record, as the sinks compare versions. */
  static version(r: AckedPosition): RowVersion {
    return { topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, external: null };
  }

  /** Each document's latest acknowledged record (a document or a tombstone) by the position rule. */
  latest(): Map<string, AckedPosition> {
    const latest = new Map<string, AckedPosition>();
    for (const r of this.acked) {
      const have = latest.get(r.key);
      if (!have || isNewer('position', PositionLedger.version(r), PositionLedger.version(have))) latest.set(r.key, r);
    }
    return latest;
  }
}

/** A row with the version it keeps and its delete marker. */
export interface VersionedRow {
  doc_id: string;
  title: string | null;
  body: string | null;
  src_topic: string | null;
  src_partition: number;
  src_offset: string;
  src_ts: string | null;
  deleted_at: Date | null;
}

const rowVersion = (r: VersionedRow): RowVersion => ({
  topic: r.src_topic,
  partition: r.src_partition,
  offset: Number(r.src_offset),
  timestamp: r.src_ts === null ? null : Number(r.src_ts),
  external: null,
});

export interface VersionsVerdict {
  /** Documents not in the state of their latest acknowledged record (missing, stale, deleted or revived). */
  mismatches: string[];
  /** Rows beyond one per doc_id. */
  duplicates: number;
  /** Rows of doc_ids never acknowledged. */
  extra: string[];
  /** Records below a committed offset whose document's row holds an older version (or no row). */
  committedAhead: string[];
  rows: number;
  /** Rows with `deleted_at` set. */
  markers: number;
  committed: number[];
}

/**
 * The acknowledged records against the table, by the version rule: every document live with the
 * text and position of its latest record, or deleted (absent or marked) when that is a tombstone.
 * Committed offsets are read first: a record below one was done before, so its document's row
 * must hold that version or a newer one — a tombstone's document may also have no row.
 */
export const examineVersions = async (s: Scenario, ledger: PositionLedger): Promise<VersionsVerdict> => {
  const committed = await committedOffsets(s);
  const rows = (await tableExists(s))
    ? await s.knex('input_data').select<VersionedRow[]>('doc_id', 'title', 'body', 'src_topic', 'src_partition', 'src_offset', 'src_ts', 'deleted_at')
    : [];
  const byDoc = new Map<string, VersionedRow>();
  let duplicates = 0;
  for (const r of rows) {
    if (byDoc.has(String(r.doc_id))) duplicates++;
    byDoc.set(String(r.doc_id), r);
  }
  const latest = ledger.latest();
  const mismatches: string[] = [];
  const describe = (row: VersionedRow | undefined): string =>
    row
      ? `row from ${row.src_partition}/${row.src_offset} ts ${String(row.src_ts)}${row.deleted_at ? ' deleted' : ` "${String(row.title).slice(0, 40)}"`}`
      : 'no row';
  for (const [key, r] of latest) {
    const row = byDoc.get(key);
    const at = `${r.partition}/${r.offset} ts ${r.timestamp}`;
    if (r.value === null) {
      if (row && row.deleted_at === null) mismatches.push(`${key}: ${describe(row)}, latest acknowledged is a tombstone at ${at}`);
      continue;
    }
    const same =
      row !== undefined &&
      row.deleted_at === null &&
      row.src_topic === r.topic &&
      row.src_partition === r.partition &&
      Number(row.src_offset) === r.offset &&
      Number(row.src_ts) === r.timestamp &&
      row.title === r.title &&
      row.body === r.body;
    if (!same) mismatches.push(`${key}: ${describe(row)}, latest acknowledged ${at} "${String(r.title).slice(0, 40)}"`);
  }
  const extra = [...byDoc.keys()].filter((k) => !latest.has(k));
  const committedAhead: string[] = [];
  for (const r of ledger.acked) {
    const c = committed[r.partition] ?? -1;
    if (r.offset >= c) continue;
    const row = byDoc.get(r.key);
    if (row === undefined ? r.value !== null : isNewer('position', PositionLedger.version(r), rowVersion(row))) {
      committedAhead.push(`${r.key}@${r.partition}/${r.offset} below committed ${c}: ${describe(row)}`);
    }
  }
  return { mismatches, duplicates, extra, committedAhead, rows: rows.length, markers: rows.filter((r) => r.deleted_at !== null).length, committed };
};

/** The largest RSS any member of the scenario reached, in MB. */
export const maxRssMbOf = (s: Scenario): number => Math.round(Math.max(0, ...s.members.map((m) => m.maxRssMb)));

/** Reports a fault's figures as verifyDelivery does: a `# fault-figures {...}` comment and a line in DOCPIPE_FAULT_FIGURES. */
export const reportFigures = (t: Pick<Test, 'comment'>, figures: Figures): void => {
  t.comment(`fault-figures ${JSON.stringify(figures)}`);
  if (process.env.DOCPIPE_FAULT_FIGURES) appendFileSync(process.env.DOCPIPE_FAULT_FIGURES, `${JSON.stringify(figures)}\n`);
};
