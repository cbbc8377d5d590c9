/**
 * Consumer lag per partition, read from the statistics librdkafka emits (`event.stats`) every
 * `statistics.interval.ms`.
 */

export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/** Lag per `topic[partition]`. */
export type LagByPartition = Map<string, PartitionLag>;

interface Stats {
  topics?: Record<string, { partitions?: Record<string, { consumer_lag?: number }> }>;
}

/**
 * Replaces the contents of `lag` with the lag of every partition `owns` accepts, from one
 * statistics document; a document that does not parse leaves it as it was.
 */
export const updateLag = (lag: LagByPartition, statsJson: string, owns: (topic: string, partition: number) => boolean): void => {
  let stats: Stats;
  try {
    stats = JSON.parse(statsJson) as Stats;
  } catch {
    return;
  }
  lag.clear();
  for (const [topic, t] of Object.entries(stats.topics ?? {})) {
    for (const [p, info] of Object.entries(t.partitions ?? {})) {
      const partition = Number(p);
      // -1 is librdkafka's internal "unassigned" partition; lag -1 means unknown.
      if (partition < 0 || info.consumer_lag === undefined || info.consumer_lag < 0) continue;
      if (!owns(topic, partition)) continue;
      lag.set(`${topic}[${partition}]`, { topic, partition, lag: info.consumer_lag });
    }
  }
};
