/**
 * librdkafka's in-process mock Kafka cluster, for the demo on machines without Java. One
 * "anchor" client owns the cluster; its brokers listen on loopback ports that other clients
 * reach like any broker. Limits (librdkafka's, not ours): each partition keeps at most about
 * 5 MiB or 100,000 messages and drops older ones; nothing survives `stop()`.
 *
 * @example
 * ```ts
 * const mock = await startMockCluster();
 * const pipeline = await createPipeline({ kafka: { brokers: mock.bootstrap, … }, … });
 * await mock.stop();
 * ```
 */
import Kafka, { type ProducerGlobalConfig } from '@confluentinc/kafka-javascript';

export interface MockCluster {
  bootstrap: string;
  stop(): Promise<void>;
}

export const startMockCluster = (brokers = 1): Promise<MockCluster> =>
  new Promise((resolve, reject) => {
    // A test-only librdkafka property, absent from the binding's type declarations.
    const config = { 'bootstrap.servers': '127.0.0.1:1', 'test.mock.num.brokers': brokers, log_level: 0 } as ProducerGlobalConfig;
    const anchor = new Kafka.Producer(config);
    anchor.connect({ timeout: 10_000 }, (err, metadata) => {
      if (err) return reject(new Error(`the mock Kafka cluster did not start: ${err.message}`));
      resolve({
        bootstrap: metadata.brokers.map((b) => `${b.host}:${b.port}`).join(','),
        stop: () => new Promise<void>((done) => anchor.disconnect(() => done())),
      });
    });
  });
