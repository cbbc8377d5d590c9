/**
 * The consume loop: pulls from librdkafka while the in-flight budget has room, claims each
 * record still ours into an envelope counted in the budget and the offset tracker, starts the
 * next poll and hands the envelopes on.
 */
import type { Message, MessageHeader } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { Envelope, KafkaHeader } from '../core/envelope.js';
import type { InFlightBudget } from '../core/inFlightBudget.js';
import type { OffsetTracker } from '../core/offsetTracker.js';
import type { Consumer } from './consumerSettings.js';
import type { RoomGate } from './flowControl.js';

const ERR_UNKNOWN_TOPIC = 3;

export type PollClient = Pick<Consumer, 'consume' | 'setDefaultConsumeTimeout' | 'setDefaultIsTimeoutOnlyForFirstMessage'>;

export interface PollLoopDeps {
  consumer: PollClient;
  budget: InFlightBudget;
  flow: RoomGate;
  tracker: Pick<OffsetTracker, 'owns' | 'handOut' | 'releaseSignal'>;
  /** Whether the partition is being let go of (its records are left for the next owner). */
  isRevoking(topic: string, partition: number): boolean;
  /** Whether to stop: checked before every poll. */
  stopping(): boolean;
  /** Hands on claimed envelopes. */
  deliver(records: Envelope<Buffer | null>[]): void;
  /** Called once the loop has returned from its last consume call. */
  ended(): void;
  /** The subscribed topics, named when one does not exist. */
  topics: readonly string[];
  /** Most records asked of librdkafka in one call. */
  pullBatch: number;
  /** How long one poll waits for a first record. */
  pollTimeoutMs: number;
  /** How long the budget may stay full before the partitions are paused. */
  pauseAfterMs: number;
  log: Logger;
}

/** A message's headers as envelopes carry them: one key and one Buffer each. */
export const toHeaders = (headers: MessageHeader[] | undefined): KafkaHeader[] => {
  if (!headers) return [];
  const out: KafkaHeader[] = [];
  for (const h of headers) {
    for (const [key, value] of Object.entries(h)) {
      out.push({ key, value: Buffer.isBuffer(value) ? value : Buffer.from(String(value)) });
    }
  }
  return out;
};

/** Envelopes for the records still ours to hand out, each counted in the budget and the tracker. */
const claim = (d: PollLoopDeps, messages: readonly Message[]): Envelope<Buffer | null>[] => {
  const out: Envelope<Buffer | null>[] = [];
  let runTopic: string | undefined;
  let runPartition = -1;
  let ours = false;
  for (const m of messages) {
    // A record of a partition we are letting go of is not handed out: the next owner reads it.
    // Records come in runs of one partition, so that is looked up once a run.
    if (m.partition !== runPartition || m.topic !== runTopic) {
      runTopic = m.topic;
      runPartition = m.partition;
      ours = !d.isRevoking(m.topic, m.partition) && d.tracker.owns(m.topic, m.partition);
    }
    if (!ours) continue;
    const value = m.value ?? null;
    const key = m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
    const size = (value?.length ?? 0) + (key?.length ?? 0);
    d.budget.acquire(size);
    const done = d.tracker.handOut(m.topic, m.partition, m.offset, size);
    out.push({
      released: d.tracker.releaseSignal(m.topic, m.partition)!,
      payload: value,
      value,
      key,
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      headers: toHeaders(m.headers),
      timestamp: m.timestamp,
      size,
      done,
    });
  }
  return out;
};

/** Starts polling; runs until `stopping()` says so, then calls `ended()`. */
export const runPollLoop = (d: PollLoopDeps): void => {
  const { consumer, budget, flow, log } = d;
  consumer.setDefaultConsumeTimeout(d.pollTimeoutMs);
  // Without this, consume(n) waits the timeout again for every message it lacks.
  consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);

  let unknownTopicReported = false;
  const pull = (): void => {
    if (d.stopping()) {
      d.ended();
      return;
    }
    const room = budget.room();
    if (room === 0 && !flow.paused) {
      void flow.waitForRoom(d.pauseAfterMs).then(pull);
      return;
    }
    // While paused, every partition is paused and this poll returns nothing, but it still
    // serves rebalances and keeps this member within max.poll.interval.ms.
    const n = room > 0 ? Math.min(d.pullBatch, room) : 1;
    consumer.consume(n, (err, messages) => {
      if (err?.code === ERR_UNKNOWN_TOPIC) {
        // Said once: a consumer may well be started before its producers create the topic.
        if (!unknownTopicReported) log.warn({ topics: d.topics }, 'a subscribed topic does not exist (yet); waiting for it');
        unknownTopicReported = true;
      } else if (err) {
        log.warn({ code: err.code, err: err.message }, 'consume failed; polling again');
      } else if (messages.length > 0 && !d.stopping()) {
        // Claimed against the budget first, then the next poll is started before they are
        // handed on: librdkafka fills it on its own thread while this one decodes and writes.
        const claimed = claim(d, messages);
        pull();
        d.deliver(claimed);
        return;
      }
      setImmediate(pull);
    });
  };
  pull();
};
