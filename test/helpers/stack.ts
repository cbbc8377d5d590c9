// Where the test stack listens, and fresh, isolated resources on it: every test gets its own
// topic and database so that no test depends on another's leftovers.
import { randomBytes } from 'node:crypto';
import Kafka from '@confluentinc/kafka-javascript';
import knex, { type Knex } from 'knex';
import { connectionFromEnv } from '../../pipeline/cli/runConfig.js';
import { disconnectProducer } from '../../pipeline/kafka/disconnectProducer.js';

const connection = connectionFromEnv(process.env);
export const kafkaBrokers = connection.kafkaBrokers;
export const db = connection.db;

/** A name no other test (or earlier run) uses: `prefix_<time>_<random>`. */
export const uniqueName = (prefix: string): string => `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

/** The slice of tap's test object these helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Creates a topic with `partitions` partitions; deletes it when the test ends. */
export const createTopic = async (t: Teardown, prefix: string, partitions = 1, config: Record<string, string> = {}): Promise<string> => {
  const topic = uniqueName(prefix);
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': kafkaBrokers, log_level: 0 });
  await new Promise<void>((resolve, reject) => {
    admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1, config }, 10_000, (err) => (err ? reject(err) : resolve()));
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        // The dead-letter topic docpipe may have created goes too.
        admin.deleteTopic(`${topic}.dlq`, 10_000, () =>
          admin.deleteTopic(topic, 10_000, () => {
            admin.disconnect();
            resolve();
          }),
        );
      }),
  );
  return topic;
};

/**
 * Creates a database `<DOCPIPE_DB_NAME>_<unique>` and a knex pool on it as the docpipe user;
 * drops both when the test ends.
 */
export const freshDatabase = async (t: Teardown): Promise<{ name: string; knex: Knex }> => {
  const name = uniqueName(`${db.database}_t`);
  const admin = knex({ client: 'mysql2', connection: { ...db } });
  await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [name]);
  const pool = knex({
    client: 'mysql2',
    // Exact 64-bit integers on the way out, as strings.
    connection: { ...db, database: name, charset: 'utf8mb4', supportBigNumbers: true, bigNumberStrings: true },
    pool: { min: 0, max: 4 },
  });
  t.teardown(async () => {
    await pool.destroy();
    await admin.raw('DROP DATABASE IF EXISTS ??', [name]);
    await admin.destroy();
  });
  return { name, knex: pool };
};

export interface OutMessage {
  value: Buffer | string | null;
  key?: string | Buffer | null;
  partition?: number;
  headers?: Record<string, string>[];
  /** Kafka timestamp in ms since the epoch (default: now). */
  timestamp?: number;
}

/** Produces messages (idempotently, acks=all) and resolves once every one is acknowledged. */
export const produce = async (topic: string, messages: readonly OutMessage[]): Promise<void> => {
  const producer = new Kafka.Producer({
    'bootstrap.servers': kafkaBrokers,
    dr_cb: true,
    'enable.idempotence': true,
    'linger.ms': 5,
    'message.max.bytes': 16 * 1024 * 1024,
    log_level: 0,
  });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInterval(20);
  try {
    let acked = 0;
    const all = new Promise<void>((resolve, reject) => {
      if (messages.length === 0) resolve();
      producer.on('delivery-report', (err) => {
        if (err) return reject(err);
        if (++acked === messages.length) resolve();
      });
    });
    for (const m of messages) {
      const value = m.value === null ? null : Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value);
      for (;;) {
        try {
          producer.produce(topic, m.partition ?? null, value, m.key ?? null, m.timestamp ?? null, undefined, m.headers);
          break;
        } catch {
          // local queue full: let deliveries drain
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    await all;
  } finally {
    await disconnectProducer(producer);
  }
};
