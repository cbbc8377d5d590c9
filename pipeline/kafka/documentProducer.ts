/**
 * One long-lived, idempotent Kafka producer for documents (upstream created a producer per
 * call and never closed it). Every send resolves on its delivery report. A bounded number of
 * messages may wait for their reports; past that, callers wait for room instead of getting an
 * error. Documents are keyed by `doc_id`, so all versions of one document share a partition.
 *
 * @example
 * ```ts
 * const producer = await DocumentProducer.open({ brokers: '127.0.0.1:9092' });
 * await producer.sendDocument('documents', { doc_id: 9223372036854775807n, title: 't', body: 'b' });
 * await producer.sendBatch([{ topic: 'documents', value: '{"doc_id": 1, "title": "", "body": ""}', key: '1' }]);
 * await producer.close();
 * ```
 */
import Kafka, { type LibrdKafkaError, type MessageHeader, type Producer } from '@confluentinc/kafka-javascript';
import { stringify } from 'lossless-json';
import type { Logger } from 'pino';
import type { RdKafkaSettings } from './kafkaSource.js';
import { connectClient } from './kafkaConnect.js';
import { disconnectProducer } from './disconnectProducer.js';
import { silentLogger } from '../core/silentLogger.js';

export interface DocumentProducerOptions {
  brokers: string;
  /** Messages sent and not yet acknowledged before callers have to wait (default 10,000). */
  maxPending?: number;
  connectTimeoutMs?: number;
  rdkafka?: RdKafkaSettings;
  logger?: Logger;
}

export interface OutgoingMessage {
  topic: string;
  value: Buffer | string | null;
  key?: Buffer | string | null;
  partition?: number;
  headers?: MessageHeader[];
  /** Message timestamp in ms since the epoch (default: now). */
  timestamp?: number | undefined;
}

export interface Delivered {
  topic: string;
  partition: number;
  offset: number;
}

/** Some messages of a batch were not acknowledged; `failures` says which and why. */
export class SendBatchError extends Error {
  constructor(
    readonly failures: { index: number; error: Error }[],
    readonly delivered: (Delivered | undefined)[],
  ) {
    super(
      `${failures.length} of ${delivered.length} messages were not acknowledged: ` +
        failures
          .slice(0, 5)
          .map((f) => `#${f.index}: ${f.error.message}`)
          .join('; ') +
        (failures.length > 5 ? '; …' : ''),
    );
    this.name = 'SendBatchError';
  }
}

const ERR_QUEUE_FULL = -184;

interface Waiter {
  resolve: (d: Delivered) => void;
  reject: (e: Error) => void;
}

export class DocumentProducer {
  private pending = 0;
  /** Callers waiting for `pending` to drop below the limit. */
  private readonly roomWaiters: (() => void)[] = [];
  private closed = false;
  private readonly log: Logger;
  private highWater = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly maxPending: number,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'producer' });
    producer.on('delivery-report', (err: LibrdKafkaError | null, report: { opaque?: unknown; topic: string; partition: number; offset: number }) => {
      const waiter = report.opaque as Waiter;
      this.pending--;
      this.roomWaiters.shift()?.();
      if (err) waiter.reject(new Error(`${err.message} (code ${err.code})`));
      else waiter.resolve({ topic: report.topic, partition: report.partition, offset: report.offset });
    });
  }

  static async open(options: DocumentProducerOptions): Promise<DocumentProducer> {
    const producer = new Kafka.Producer({
      'bootstrap.servers': options.brokers,
      'client.id': 'docpipe-producer',
      dr_cb: true,
      'enable.idempotence': true,
      acks: -1,
      'linger.ms': 5,
      'compression.type': 'lz4',
      ...options.rdkafka,
    });
    await connectClient(producer, options.brokers, options.connectTimeoutMs ?? 10_000);
    producer.setPollInterval(10);
    return new DocumentProducer(producer, options.maxPending ?? 10_000, options.logger ?? silentLogger);
  }

  /** Sends one message; resolves when Kafka acknowledges it, rejects when it cannot. */
  send(topic: string, value: Buffer | string | null, key?: Buffer | string | null): Promise<Delivered> {
    return this.sendMessage({ topic, value, key: key ?? null });
  }

  /** Sends a document keyed by its `doc_id`; a bigint `doc_id` is written exactly. */
  sendDocument<D extends { readonly doc_id: bigint | number | string }>(topic: string, doc: D): Promise<Delivered> {
    return this.sendMessage({ topic, value: stringify(doc) ?? '', key: String(doc.doc_id) });
  }

  /** Sends all; resolves when every one is acknowledged, else rejects with a {@link SendBatchError}. */
  async sendBatch(messages: readonly OutgoingMessage[]): Promise<Delivered[]> {
    const results = await Promise.allSettled(messages.map((m) => this.sendMessage(m)));
    const failures = results.flatMap((r, index) => (r.status === 'rejected' ? [{ index, error: r.reason as Error }] : []));
    const delivered = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    if (failures.length > 0) throw new SendBatchError(failures, delivered);
    return delivered as Delivered[];
  }

  /** Resolves once another message can be sent without waiting; for loops that must not run ahead. */
  async ready(): Promise<void> {
    while (this.pending >= this.maxPending) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** The most messages that were ever waiting for their reports at once. */
  get maxPendingSeen(): number {
    return this.highWater;
  }

  async flush(timeoutMs = 30_000): Promise<void> {
    await new Promise<void>((resolve, reject) => this.producer.flush(timeoutMs, (err) => (err ? reject(err) : resolve())));
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const flushError = await disconnectProducer(this.producer, timeoutMs);
    if (flushError) this.log.warn({ err: flushError.message }, 'flush on close failed');
  }

  /** Like {@link send}, with headers, a partition or a timestamp of your choosing. */
  async sendMessage(m: OutgoingMessage): Promise<Delivered> {
    if (this.closed) throw new Error('the producer is closed');
    while (this.pending >= this.maxPending) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    this.pending++;
    this.highWater = Math.max(this.highWater, this.pending);
    const value = typeof m.value === 'string' ? Buffer.from(m.value) : m.value;
    const key = m.key ?? null;
    return new Promise<Delivered>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const attempt = (): void => {
        try {
          this.producer.produce(m.topic, m.partition ?? null, value, key, m.timestamp ?? null, waiter, m.headers);
        } catch (err) {
          // librdkafka's own queue is full: wait for deliveries rather than fail.
          if ((err as LibrdKafkaError).code === ERR_QUEUE_FULL) {
            setTimeout(attempt, 20);
            return;
          }
          this.pending--;
          this.roomWaiters.shift()?.();
          reject(err);
        }
      };
      attempt();
    });
  }
}
