/**
 * Writes rejected records to a dead-letter topic (default `<topic>.dlq`): the original key,
 * value, headers and timestamp, plus headers naming the original topic, partition and offset,
 * the stage that refused the record, the error class and the message. A record counts as done
 * only once Kafka acknowledges its dead-letter copy; until then it holds its partition's
 * commit position, and a failed produce is retried with backoff, without end.
 *
 * The writer knows nothing of the Kafka client: it is given a {@link DeadLetterTransport}
 * (`openDeadLetterWriter` from `docpipe` builds one on librdkafka), so a test or another
 * broker client can stand in for it.
 *
 * @example
 * ```ts
 * import { openDeadLetterWriter } from 'docpipe';
 * import { decodeJson } from 'docpipe/operators';
 * const dlq = await openDeadLetterWriter({ brokers: '127.0.0.1:9092' });
 * records.pipe(decodeJson({ deadLetter: dlq.send }));
 * await dlq.close();
 * ```
 */
import type { MessageHeader } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { coordinates, type Envelope } from '../pipeline/core/envelope.js';
import { silentLogger } from '../pipeline/core/silentLogger.js';
import { backoffDelay } from '../pipeline/core/retry.js';
import { recordVersion, VERSION_HEADERS } from './recordVersion.js';
import type { DeadLetter, Rejection } from '../pipeline/core/rejections.js';

/** A dead-letter copy as the transport sends it. */
export interface DeadLetterMessage {
  topic: string;
  value: Buffer | null;
  key: Buffer | null;
  headers: MessageHeader[];
  timestamp: number | undefined;
}

/** What the writer needs of a Kafka client. */
export interface DeadLetterTransport {
  /** Resolves once the broker acknowledges the copy; rejects when it does not. */
  send(message: DeadLetterMessage): Promise<unknown>;
  /** Creates the topic if it is missing; rejects when that fails (the copy is sent anyway). */
  createTopic(topic: string, config: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export interface DeadLetterWriterOptions {
  /** The dead-letter topic for a record's topic (default `<topic>.dlq`). */
  topicFor?: (topic: string) => string;
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
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

export class DeadLetterWriter {
  private readonly log: Logger;
  private pending = 0;
  private closed = false;
  private readonly idle = new Set<() => void>();
  /** Backoff timers of copies waiting to be tried again. */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Dead-letter topics created (or found) so far, by name. */
  private readonly topics = new Map<string, Promise<void>>();

  constructor(
    private readonly transport: DeadLetterTransport,
    private readonly options: DeadLetterWriterOptions = {},
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'dead-letter' });
  }

  /** Dead-letters a record; it becomes done when Kafka acknowledges the copy. */
  readonly send: DeadLetter = (record, rejection) => {
    this.pending++;
    void this.deliver(record, rejection);
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
    await this.transport.close();
  }

  /** Creates the dead-letter topic once, before its first copy; "already exists" is fine. */
  private ensureTopic(topic: string): Promise<void> {
    let ready = this.topics.get(topic);
    if (!ready) {
      const config = { 'max.message.bytes': String(this.options.topicMaxMessageBytes ?? 64 * 1024 * 1024) };
      // Creation refused or not allowed: produce anyway and let the broker's answer decide (a
      // refused copy is retried, never dropped).
      ready = this.transport.createTopic(topic, config).catch((err: unknown) => {
        this.log.warn({ topic, err: err instanceof Error ? err.message : String(err) }, 'could not create the dead-letter topic');
      });
      this.topics.set(topic, ready);
    }
    return ready;
  }

  /** Sends the copy until Kafka acknowledges it, backing off between tries; then the record is done. */
  private async deliver(record: Envelope<unknown>, rejection: Rejection): Promise<void> {
    const topic = (this.options.topicFor ?? ((t: string) => `${t}.dlq`))(record.topic);
    await this.ensureTopic(topic);
    // The version the record had when it first came: a replay is judged by it, not by the
    // position it comes back at. A record replayed before keeps the one it already carries.
    const version = recordVersion(record, null);
    const headers: MessageHeader[] = [
      ...record.headers.filter((h) => !h.key.startsWith('docpipe.version.')).map((h) => ({ [h.key]: h.value })),
      { [VERSION_HEADERS.topic]: version.topic ?? record.topic },
      { [VERSION_HEADERS.partition]: String(version.partition) },
      { [VERSION_HEADERS.offset]: String(version.offset) },
      ...(version.timestamp === null ? [] : [{ [VERSION_HEADERS.timestamp]: String(version.timestamp) }]),
      { [DLQ_HEADERS.topic]: record.topic },
      { [DLQ_HEADERS.partition]: String(record.partition) },
      { [DLQ_HEADERS.offset]: String(record.offset) },
      { [DLQ_HEADERS.stage]: rejection.stage },
      { [DLQ_HEADERS.errorClass]: rejection.errorClass },
      { [DLQ_HEADERS.message]: rejection.message.slice(0, MAX_MESSAGE_CHARS) },
    ];
    const r = this.options.retry ?? {};
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await this.transport.send({ topic, value: record.value, key: record.key, headers, timestamp: record.timestamp });
      } catch (err) {
        this.log.warn({ record: coordinates(record), err: (err as Error).message, attempt }, 'dead letter not acknowledged; retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(
            () => {
              this.timers.delete(timer);
              resolve();
            },
            backoffDelay(attempt, r.initialDelayMs ?? 200, r.maxDelayMs ?? 10_000, Math.random),
          );
          this.timers.add(timer);
        });
        continue;
      }
      this.log.info(
        { record: coordinates(record), dlq: topic, stage: rejection.stage, errorClass: rejection.errorClass, reason: rejection.message },
        'record dead-lettered',
      );
      record.done();
      this.pending--;
      if (this.pending === 0) for (const done of [...this.idle]) done();
      return;
    }
  }
}
