/**
 * Ceiling, source side: the same topic read by librdkafka (the node-rdkafka-style consumer
 * docpipe itself uses) with nothing done to the messages — no decoding, no database. Shows
 * how much of docpipe's time the Kafka client alone would take.
 */
import Kafka from '@confluentinc/kafka-javascript';
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { uniqueName } from '../test/helpers/stack.js';

/** Calls the binding has that its type declarations leave out. */
interface TimeoutSwitch {
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
}

export const rawSource: Contender = {
  id: 'rawSource',
  title: 'ceiling: raw librdkafka consume',
  configuration: 'KafkaConsumer.consume(1000) in a loop, librdkafka defaults, messages counted and dropped',
  writes: false,
  async run({ ctx, topic, total }: RunInput): Promise<Throughput> {
    const consumer = new Kafka.KafkaConsumer(
      { 'bootstrap.servers': ctx.brokers, 'group.id': uniqueName('bench_raw'), 'enable.auto.commit': false, log_level: 0 },
      { 'auto.offset.reset': 'earliest' },
    );
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    consumer.setDefaultConsumeTimeout(100);
    // Otherwise consume(n) waits the timeout again for every message it lacks.
    (consumer as unknown as TimeoutSwitch).setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.subscribe([topic]);
    const progress = new Progress();
    let stopped = false;
    const pull = () => {
      if (stopped) return;
      consumer.consume(1000, (err, messages) => {
        if (!err && messages.length > 0) progress.add(messages.length);
        setImmediate(pull);
      });
    };
    pull();
    try {
      await progress.reached(total, this.title);
    } finally {
      stopped = true;
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
    return progress.result();
  },
};
