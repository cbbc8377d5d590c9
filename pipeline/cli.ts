#!/usr/bin/env node
/**
 * `docpipe run`: the long-lived pipeline, configured from the environment (see README).
 * SIGTERM or SIGINT drains in-flight batches, commits and exits 0; a second signal forces the
 * stop. Exit codes: 0 stopped cleanly, 1 fatal error, 2 bad configuration or usage.
 *
 * @example
 * ```sh
 * DOCPIPE_TOPICS=documents node dist/pipeline/cli.js run
 * ```
 */
import { createLogger } from './logger.js';
import { ConfigError, runSettingsFromEnv, type RunSettings } from './env.js';
import { createPipeline } from './createPipeline.js';

const USAGE = 'usage: docpipe run   (settings come from DOCPIPE_* environment variables; see README)';

const run = async (settings: RunSettings): Promise<number> => {
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

const main = async (argv: string[]): Promise<number> => {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === undefined) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'run' || rest.length > 0) {
    console.error(`docpipe: unknown command or argument '${[command, ...rest].join(' ')}'\n${USAGE}`);
    return 2;
  }
  let settings: RunSettings;
  try {
    settings = runSettingsFromEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`docpipe: bad configuration: ${err.message}`);
      return 2;
    }
    throw err;
  }
  try {
    return await run(settings);
  } catch (err) {
    console.error(`docpipe: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
};

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
