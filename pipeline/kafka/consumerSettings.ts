/**
 * How docpipe's librdkafka consumer is built: the settings it always sets (each with its
 * reason), the caller's own settings passed through last, and the client's log and errors
 * routed to the logger with secrets blanked.
 */
import Kafka, { type KafkaConsumer, type LibrdKafkaError } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { BudgetLimits } from '../core/inFlightBudget.js';
import type { CommitPosition, TopicPartition } from '../core/offsetTracker.js';
import { repeatThrottle } from '../core/repeatThrottle.js';

export type RdKafkaSettings = Record<string, string | number | boolean>;

/** Calls the binding has that its type declarations leave out. */
export interface ConsumerExtras {
  incrementalAssign(tps: TopicPartition[]): void;
  incrementalUnassign(tps: TopicPartition[]): void;
  assignmentLost(): boolean;
  rebalanceProtocol(): string;
  commitCb(tps: CommitPosition[], cb: (err: LibrdKafkaError | null) => void): void;
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
}
export type Consumer = KafkaConsumer & ConsumerExtras;

/** A repeated Kafka client error is logged at most once per this long, with how often it came. */
const ERROR_LOG_WINDOW_MS = 30_000;

/** Blanks values of settings whose name says they are secret, in free text. */
export const redactSecrets = (text: string): string => text.replace(/((?:password|secret|token)[\w.]*\s*[=:]\s*)(?!\[redacted\])\S+/gi, '$1[redacted]');

export interface ConsumerSettings {
  brokers: string;
  groupId: string;
  /** The in-flight budget's limits, which librdkafka's own prefetch is sized from. */
  limits: BudgetLimits;
  /**
   * Static membership (`group.instance.id`): a member restarted under the same id takes its
   * partitions back at once, without a rebalance, instead of waiting out its session timeout.
   */
  instanceId?: string | undefined;
  /** The group protocol: `classic` (default) or `consumer`, KIP-848's, where the broker assigns. */
  groupProtocol?: GroupProtocol | undefined;
  /** librdkafka settings, passed through last (so they win). */
  rdkafka?: RdKafkaSettings | undefined;
}

export type GroupProtocol = 'classic' | 'consumer';

/** The group settings of a protocol: KIP-848's refuses a client-side assignment strategy (the broker assigns). */
export const groupSettings = (protocol: GroupProtocol, instanceId: string | undefined): RdKafkaSettings => ({
  ...(protocol === 'consumer' ? { 'group.protocol': 'consumer' } : { 'partition.assignment.strategy': 'cooperative-sticky' }),
  ...(instanceId !== undefined && { 'group.instance.id': instanceId }),
});

/** What the consumer reports to its owner. */
export interface ConsumerHandlers {
  /** rebalance_cb: partitions assigned or revoked. */
  rebalance(err: LibrdKafkaError, assignment: TopicPartition[]): void;
  /** offset_commit_cb: the broker's answer to a commit. */
  commitResult(err: LibrdKafkaError | undefined, positions: Partial<CommitPosition>[]): void;
  /** An error librdkafka cannot recover from. */
  fatal(err: LibrdKafkaError): void;
}

/** A consumer that commits only when told to, its prefetch capped by the budget's limits. */
export const createConsumer = (s: ConsumerSettings, on: ConsumerHandlers, log: Logger): Consumer => {
  // librdkafka overshoots this cap by up to a fetch response per partition (with 6 partitions,
  // 8 MiB let it hold ~180 MB, 1 MiB ~40 MB, at the same rate). So a thirty-second of the bytes.
  const queueKBytes = Math.max(256, Math.floor(s.limits.maxBytes / 1024 / 32));
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': s.brokers,
      'group.id': s.groupId,
      'client.id': 'docpipe',
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      ...groupSettings(s.groupProtocol ?? 'classic', s.instanceId),
      // librdkafka prefetches on its own; cap it so the budget, not librdkafka, bounds memory.
      'queued.max.messages.kbytes': queueKBytes,
      'queued.min.messages': Math.max(1000, s.limits.maxRecords),
      // When that cap is reached librdkafka waits this long before fetching again; its
      // default (1 s) would cut throughput by a factor of ten.
      'fetch.queue.backoff.ms': 10,
      'socket.keepalive.enable': true,
      // Consumer lag per partition for metrics and readiness.
      'statistics.interval.ms': 5000,
      rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => on.rebalance(err, assignment),
      offset_commit_cb: (err: LibrdKafkaError | undefined, positions: Partial<CommitPosition>[]) => on.commitResult(err, positions),
      ...s.rdkafka,
    },
    // A topic configuration object replaces librdkafka's defaults for topic-level settings,
    // so auto.offset.reset must be given here, not among the global settings.
    { 'auto.offset.reset': 'earliest' },
  ) as Consumer;
  // librdkafka's own log (with `debug` set, its protocol and config dumps) at debug level.
  // It redacts secrets in its config dumps itself; the pattern below is a second net.
  consumer.on('event.log', (event: { fac: string; message: string }) => log.debug({ fac: event.fac }, redactSecrets(event.message)));
  // librdkafka repeats an error on every failed reconnect while a broker is away.
  const passError = repeatThrottle(ERROR_LOG_WINDOW_MS);
  consumer.on('event.error', (err: LibrdKafkaError) => {
    if (err.isFatal) {
      on.fatal(err);
      return;
    }
    // Transport errors while a broker restarts are expected; librdkafka reconnects.
    const held = passError(`${err.code} ${err.message}`);
    if (held === undefined) return;
    log.warn({ code: err.code, err: err.message, ...(held > 0 && { repeatedSinceLast: held }) }, 'kafka client error');
  });
  return consumer;
};
