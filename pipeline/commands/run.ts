/**
 * `docpipe run`: the long-lived pipeline, configured by flags, DOCPIPE_* variables and an
 * optional config file (in that order of precedence). SIGTERM or
 * SIGINT drains in-flight batches, commits and resolves; a second signal forces the stop.
 *
 * @example
 * ```sh
 * DOCPIPE_TOPICS=documents docpipe run
 * ```
 */
import { createLogger } from '../logger.js';
import { resolveRunSettings } from '../runConfig.js';
import { createPipeline } from '../createPipeline.js';

export const runCommand = async (options: { config?: string | undefined; flags: Record<string, string | undefined> }): Promise<number> => {
  const settings = resolveRunSettings({ file: options.config, env: process.env, flags: options.flags });
  const logger = createLogger();
  logger.info(
    { topics: settings.topics, groupId: settings.groupId, table: settings.table, brokers: settings.kafkaBrokers, db: { ...settings.db, password: '[redacted]' } },
    'starting',
  );
  const pipeline = await createPipeline({
    kafka: { brokers: settings.kafkaBrokers, groupId: settings.groupId, topics: settings.topics, rdkafka: settings.rdkafka },
    db: settings.db,
    table: settings.table,
    autoMigrate: settings.autoMigrate,
    budget: { maxRecords: settings.maxInFlightRecords, maxBytes: settings.maxInFlightBytes },
    batch: { maxRecords: settings.batchRecords, maxBytes: settings.batchBytes, maxDelayMs: settings.batchDelayMs },
    sinkConcurrency: settings.sinkConcurrency,
    commitIntervalMs: settings.commitIntervalMs,
    drainTimeoutMs: settings.drainTimeoutMs,
    logger,
  });
  const onSignal = (signal: string) => {
    logger.info({ signal }, 'signal received');
    void pipeline.stop();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  await pipeline.done;
  return 0;
};
