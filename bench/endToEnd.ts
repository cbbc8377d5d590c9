/**
 * docpipe end to end: a topic already holding the documents, drained into the table by the
 * default chain (or with one extra operator). Timed from the first batch written to the last,
 * so the consumer group join is not counted.
 */
import { createPipeline, type PipelineConfig } from '../pipeline/createPipeline.js';

export interface EndToEndResult {
  rowsPerSecond: number;
  seconds: number;
  batches: number;
}

export const endToEnd = async (config: PipelineConfig, total: number): Promise<EndToEndResult> => {
  const pipeline = await createPipeline(config);
  let firstAt = 0;
  let firstCount = 0;
  for (;;) {
    const { recordsWritten } = pipeline.stats();
    if (recordsWritten > 0 && firstAt === 0) {
      firstAt = performance.now();
      firstCount = recordsWritten;
    }
    if (recordsWritten >= total) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seconds = (performance.now() - firstAt) / 1000;
  const { batches } = pipeline.stats();
  await pipeline.stop();
  return { rowsPerSecond: (total - firstCount) / seconds, seconds, batches };
};
