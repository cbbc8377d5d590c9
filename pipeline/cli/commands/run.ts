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
import { releaseEarlySignals } from '../earlySignals.js';
import { createLogger, flushLogsSync } from '../logger.js';
import { resolveRunSettings } from '../runConfig.js';
import { createPipeline } from '../../createPipeline.js';
import { migrationsSettled } from '../../../sinks/inputDataTable.js';
import { createOperations } from '../operationsServer.js';

/** How often the one-line throughput summary is logged. */
const SUMMARY_EVERY_MS = 5000;
/** Stop signals this close together are one request. */
const SAME_REQUEST_MS = 1000;

/** Where the process's memory is: the JavaScript heap, Buffers and other memory outside it, all of it. */
const memoryMb = () => {
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  return { rss: mb(m.rss), heap: mb(m.heapUsed), external: mb(m.external) };
};

export const runCommand = async (options: { config?: string | undefined; flags: Record<string, string | undefined> }): Promise<number> => {
  const settings = resolveRunSettings({ file: options.config, env: process.env, flags: options.flags });
  const logger = createLogger();
  logger.info(
    {
      topics: settings.topics,
      groupId: settings.groupId,
      table: settings.table,
      brokers: settings.kafkaBrokers,
      db: 'filename' in settings.target ? settings.target : { ...settings.target, password: '[redacted]' },
      mapping: settings.mapping ? Object.keys(settings.mapping.columns) : 'input_data',
    },
    'starting',
  );
  const operations = createOperations();
  // A stop asked for while starting (connecting, waiting for another member's migration) ends
  // the process: nothing has been read yet, so there is nothing to drain or commit. Only a
  // migration under way is let finish first, or its lock row would stay set for the next start.
  const duringStartup = (signal: string) => {
    logger.info({ signal }, 'signal received during start-up; exiting');
    void migrationsSettled().finally(() => {
      flushLogsSync(logger);
      process.exit(0);
    });
  };
  process.once('SIGTERM', duringStartup);
  process.once('SIGINT', duringStartup);
  releaseEarlySignals();
  const pipeline = await createPipeline({
    onBatch: operations.observeBatch,
    kafka: {
      brokers: settings.kafkaBrokers,
      groupId: settings.groupId,
      topics: settings.topics,
      rdkafka: settings.rdkafka,
      groupProtocol: settings.groupProtocol,
      ...(settings.instanceId !== undefined && { instanceId: settings.instanceId }),
    },
    outageTimeoutMs: settings.outageTimeoutMs,
    db: settings.target,
    table: settings.table,
    ...(settings.mapping && { mapping: settings.mapping }),
    autoMigrate: settings.autoMigrate,
    budget: { maxRecords: settings.maxInFlightRecords, maxBytes: settings.maxInFlightBytes },
    maxPartitionRecords: settings.maxPartitionRecords,
    batch: { maxRecords: settings.batchRecords, maxBytes: settings.batchBytes, maxDelayMs: settings.batchDelayMs },
    sinkConcurrency: settings.sinkConcurrency,
    decodeInWorker: settings.decodeInWorker,
    deletes: settings.deletes,
    ...(settings.versionField !== undefined && { versionField: settings.versionField }),
    commitIntervalMs: settings.commitIntervalMs,
    drainTimeoutMs: settings.drainTimeoutMs,
    logger,
  });
  // A terminal's Ctrl-C, or a service manager that signals every process of the unit, reaches
  // both this process and the docpipe command, which passes it on: one request, not the
  // second one that abandons the drain.
  let lastSignalAt = -Infinity;
  const onSignal = (signal: string) => {
    const now = performance.now();
    if (now - lastSignalAt < SAME_REQUEST_MS) return;
    lastSignalAt = now;
    logger.info({ signal }, 'signal received');
    void pipeline.stop();
  };
  process.removeListener('SIGTERM', duringStartup);
  process.removeListener('SIGINT', duringStartup);
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const server = settings.metricsPort
    ? await operations
        .listen(settings.metricsPort, () => pipeline.stats())
        .catch(async (err: unknown) => {
          await pipeline.stop();
          const code = (err as NodeJS.ErrnoException).code;
          throw new Error(
            code === 'EADDRINUSE'
              ? `the metrics port ${settings.metricsPort} is already in use; choose another with --metrics-port (or 0 for none)`
              : `cannot serve metrics on port ${settings.metricsPort}: ${(err as Error).message}`,
          );
        })
    : undefined;
  if (server) logger.info({ port: settings.metricsPort }, 'serving /metrics, /healthz and /readyz');
  let last = pipeline.stats();
  const summary = setInterval(() => {
    const now = pipeline.stats();
    const per = (a: number, b: number) => Math.round(((a - b) * 1000) / SUMMARY_EVERY_MS);
    logger.info(
      {
        inPerSec: per(now.recordsIn, last.recordsIn),
        writtenPerSec: per(now.recordsWritten, last.recordsWritten),
        deadLettered: now.deadLettered,
        stale: now.recordsStale,
        inFlight: now.inFlight.records,
        paused: now.paused,
        lag: now.lag.reduce((sum, p) => sum + p.lag, 0),
        memoryMb: memoryMb(),
      },
      'throughput',
    );
    last = now;
  }, SUMMARY_EVERY_MS);
  try {
    await pipeline.done;
  } finally {
    clearInterval(summary);
    server?.close();
    if (pipeline.abandonedClients) {
      // A librdkafka client that could not close would hold the normal exit for as long as
      // the session timeout; end as an unhandled SIGTERM would, at once. Done offsets are
      // committed; the rest is read again by the next run.
      logger.warn('exiting without closing the Kafka clients');
      flushLogsSync(logger);
      process.removeAllListeners('SIGTERM');
      // As PID 1 (a container without an init) the kernel drops a signal the process does
      // not handle, so it would never end: it exits with the status such a signal gives.
      if (process.pid === 1) process.exit(143);
      process.kill(process.pid, 'SIGTERM');
    }
  }
  return 0;
};
