/**
 * Writes rejected records to a dead-letter topic (default `<topic>.dlq`): the original key,
 * value, headers and timestamp, plus headers naming the original topic, partition and offset,
 * the stage that refused the record, the error class and the message. A record counts as done
 * only once Kafka acknowledges its dead-letter copy; until then it holds its partition's
 * commit position, and a failed produce is retried with backoff, without end.
 *
 * @example
 * ```ts
 * const dlq = await DeadLetterWriter.open({ brokers: '127.0.0.1:9092' });
 * records.pipe(decodeJson({ deadLetter: dlq.send }));
 * await dlq.close();
 * ```
 */
import Kafka, { type IAdminClient, type LibrdKafkaError, type MessageHeader, type Producer } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { coordinates, type Envelope } from '../pipeline/envelope.js';
import { silentLogger } from '../pipeline/logger.js';
import { backoffDelay } from '../pipeline/retry.js';
import type { DeadLetter, Rejection } from '../pipeline/records.js';
import type { RdKafkaSettings } from '../pipeline/kafkaSource.js';
import { KafkaConnectError } from '../pipeline/kafkaSource.js';

export interface DeadLetterWriterOptions {
  brokers: string;
  /** The dead-letter topic for a record's topic (default `<topic>.dlq`). */
  topicFor?: (topic: string) => string;
  connectTimeoutMs?: number;
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  rdkafka?: RdKafkaSettings;
  logger?: Logger;
  /**
   * `max.message.bytes` of a dead-letter topic docpipe creates (default 64 MiB): poison
   * records are often the large ones, and the broker's 1 MB default would refuse their copy.
   * Existing topics are left as they are.
   */
  topicMaxMessageBytes?: number;
}

export const DLQ_HEADERS = {
  topic: 'docpipe.original.topic',
  partition: 'docpipe.original.partition',
  offset: 'docpipe.original.offset',
  stage: 'docpipe.stage',
  errorClass: 'docpipe.error.class',
  message: 'docpipe.error.message',
} as const;

/** Header values are bounded so one huge error message cannot make the copy unwritable. */
const MAX_MESSAGE_CHARS = 4000;

interface Job {
  record: Envelope<unknown>;
  rejection: Rejection;
  attempt: number;
}

export class DeadLetterWriter {
  private readonly log: Logger;
  private pending = 0;
  private closed = false;
  private readonly idle = new Set<() => void>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Dead-letter topics created (or found) so far, by name. */
  private readonly topics = new Map<string, Promise<void>>();
  private admin: IAdminClient | undefined;

  private constructor(
    private readonly producer: Producer,
    private readonly options: DeadLetterWriterOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'dead-letter' });
    producer.on('delivery-report', (err: LibrdKafkaError | null, report: { opaque?: unknown; topic: string; offset?: number }) => {
      const job = report.opaque as Job;
      if (err) {
        this.log.warn({ record: coordinates(job.record), err: err.message, attempt: job.attempt }, 'dead letter not acknowledged; retrying');
        this.later(job);
        return;
      }
      this.log.info(
        { record: coordinates(job.record), dlq: report.topic, stage: job.rejection.stage, errorClass: job.rejection.errorClass, reason: job.rejection.message },
        'record dead-lettered',
      );
      job.record.done();
      this.finished();
    });
  }

  static async open(options: DeadLetterWriterOptions): Promise<DeadLetterWriter> {
    const producer = new Kafka.Producer({
      'bootstrap.servers': options.brokers,
      'client.id': 'docpipe-dead-letters',
      dr_cb: true,
      'enable.idempotence': true,
      acks: -1,
      // Surface a stuck delivery as an error to retry (and log) rather than waiting 5 minutes.
      'message.timeout.ms': 30_000,
      // Poison records can be large; the broker's topic limit still applies.
      'message.max.bytes': 64 * 1024 * 1024,
      'linger.ms': 5,
      ...options.rdkafka,
    });
    await new Promise<void>((resolve, reject) =>
      producer.connect({ timeout: options.connectTimeoutMs ?? 10_000 }, (err) =>
        err ? reject(new KafkaConnectError(options.brokers, err)) : resolve(),
      ),
    );
    producer.setPollInterval(20);
    return new DeadLetterWriter(producer, options);
  }

  /** Dead-letters a record; it becomes done when Kafka acknowledges the copy. */
  readonly send: DeadLetter = (record, rejection) => {
    this.pending++;
    this.produce({ record, rejection, attempt: 1 });
  };

  /** Dead letters sent and not yet acknowledged. */
  get inFlight(): number {
    return this.pending;
  }

  /** Resolves once every dead letter sent so far is acknowledged, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.pending === 0) return resolve(true);
      const timer = setTimeout(() => {
        this.idle.delete(done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.idle.delete(done);
        resolve(true);
      };
      this.idle.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.admin?.disconnect();
    await new Promise<void>((resolve) => this.producer.flush(5_000, () => resolve()));
    await new Promise<void>((resolve) => this.producer.disconnect(5_000, () => resolve()));
  }

  /** Creates the dead-letter topic once, before its first copy; "already exists" is fine. */
  private ensureTopic(topic: string): Promise<void> {
    let ready = this.topics.get(topic);
    if (!ready) {
      this.admin ??= Kafka.AdminClient.create({ 'bootstrap.servers': this.options.brokers, ...this.options.rdkafka });
      const admin = this.admin;
      ready = new Promise<void>((resolve) => {
        const config = { 'max.message.bytes': String(this.options.topicMaxMessageBytes ?? 64 * 1024 * 1024) };
        admin.createTopic({ topic, num_partitions: 1, replication_factor: -1, config }, 10_000, (err) => {
          // Exists already (code 36), or creation is not allowed: either way produce, and let
          // the broker's answer decide (a refused copy is retried, never dropped).
          if (err && err.code !== 36) this.log.warn({ topic, err: err.message }, 'could not create the dead-letter topic');
          resolve();
        });
      });
      this.topics.set(topic, ready);
    }
    return ready;
  }

  private produce(job: Job): void {
    if (this.closed) return;
    const topic = (this.options.topicFor ?? ((t: string) => `${t}.dlq`))(job.record.topic);
    void this.ensureTopic(topic).then(() => this.produceTo(topic, job));
  }

  private produceTo(topic: string, job: Job): void {
    if (this.closed) return;
    const { record, rejection } = job;
    const headers: MessageHeader[] = [
      ...record.headers.map((h) => ({ [h.key]: h.value })),
      { [DLQ_HEADERS.topic]: record.topic },
      { [DLQ_HEADERS.partition]: String(record.partition) },
      { [DLQ_HEADERS.offset]: String(record.offset) },
      { [DLQ_HEADERS.stage]: rejection.stage },
      { [DLQ_HEADERS.errorClass]: rejection.errorClass },
      { [DLQ_HEADERS.message]: rejection.message.slice(0, MAX_MESSAGE_CHARS) },
    ];
    try {
      this.producer.produce(topic, null, record.value, record.key, record.timestamp ?? null, job, headers);
    } catch (err) {
      // The local queue is full or the producer refused the message: try again shortly.
      this.log.warn({ record: coordinates(record), err: (err as Error).message }, 'dead letter not queued; retrying');
      this.later(job);
    }
  }

  private later(job: Job): void {
    const r = this.options.retry ?? {};
    const delay = backoffDelay(job.attempt, r.initialDelayMs ?? 200, r.maxDelayMs ?? 10_000, Math.random);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.produce({ ...job, attempt: job.attempt + 1 });
    }, delay);
    this.timers.add(timer);
  }

  private finished(): void {
    this.pending--;
    if (this.pending === 0) for (const done of [...this.idle]) done();
  }
}
