/**
 * Ceiling, source side: the same topic read by librdkafka (the node-rdkafka-style consumer
 * docpipe itself uses) with nothing done to the messages — no decoding, no database. Shows
 * how much of docpipe's time the Kafka client alone would take.
 */
import type { Contender, RunInput } from './contender.js';
import { Progress, type Throughput } from './progress.js';
import { subscribedConsumer, UNTHROTTLED } from './subscribedConsumer.js';

export const rawSource: Contender = {
  id: 'rawSource',
  title: 'ceiling: raw librdkafka consume',
  configuration: 'KafkaConsumer.consume(1000) in a loop, librdkafka defaults but fetch.queue.backoff.ms 10 (as docpipe), messages counted and dropped',
  writes: false,
  async run({ ctx, topic, total }: RunInput): Promise<Throughput> {
    const consumer = await subscribedConsumer(ctx.brokers, 'bench_raw', topic, UNTHROTTLED);
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
