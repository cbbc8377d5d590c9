/**
 * The `docpipe` command line (its entry is main.ts). Exit codes: 0 done (or stopped cleanly), 1 failed (a fatal error, rows
 * skipped, documents missing), 2 bad usage or configuration.
 *
 * @example
 * ```sh
 * docpipe run                                   # the long-lived pipeline (DOCPIPE_* settings)
 * docpipe migrate                               # create or upgrade the table
 * docpipe produce --csv docs.csv --topic documents
 * docpipe verify --topic documents
 * ```
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from './env.js';
import { SETTINGS } from './runConfig.js';
import { runCommand } from './commands/run.js';
import { migrateCommand } from './commands/migrate.js';
import { produceCommand } from './commands/produce.js';
import { verifyCommand } from './commands/verify.js';
import { dlqReplayCommand } from './commands/dlqReplay.js';
import { demoCommand } from './commands/demo.js';
import { releaseEarlySignals } from './earlySignals.js';

// `run` takes over the signals itself once it has its own handlers; the others end as Node
// ends a process on a signal.
if (process.argv[2] !== 'run') releaseEarlySignals();

const EXIT_USAGE = 2;

const program = new Command('docpipe')
  .description('Moves documents from Kafka into MySQL, at least once, into an idempotent table.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const tableOption = ['--table <name>', 'table name', process.env['DOCPIPE_TABLE'] ?? 'input_data'] as const;

let code = 0;
const set = (c: number) => {
  code = c;
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
const run = program
  .command('run')
  .description('run the pipeline until SIGTERM/SIGINT; flags win over DOCPIPE_* variables, which win over the config file')
  .option('--config <file>', 'YAML or JSON config file');
for (const s of SETTINGS) run.option(`--${s.flag} <value>`, `${s.describe} (${s.env}, config key ${s.key})`);
run.action(async (o: Record<string, string | undefined>) =>
  set(await runCommand({ config: o['config'], flags: Object.fromEntries(SETTINGS.map((s) => [s.flag, o[camel(s.flag)]])) })),
);

program
  .command('migrate')
  .description("create the tables 'docpipe run' writes (from the mapping), or upgrade input_data; check existing ones (idempotent)")
  .option('--config <file>', "YAML or JSON config file, as 'docpipe run' reads it")
  .option('--table <name>', 'table name (DOCPIPE_TABLE, config key table)')
  .action(async (o: { config?: string; table?: string }) => set(await migrateCommand(o)));

program
  .command('produce')
  .description('send the documents of a CSV file to a topic, keyed by doc_id')
  .requiredOption('--csv <file>', 'RFC 4180 CSV file with a header row')
  .requiredOption('--topic <topic>', 'topic to send to')
  .option('--doc-id <column>', 'column holding doc_id', 'doc_id')
  .option('--title <column>', 'column holding the title', 'title')
  .option('--body <columns>', 'comma-separated columns joined into the body', 'body')
  .option('--body-separator <text>', 'text put between body columns', '\n')
  .option('--url <column>', 'column holding the url', 'url')
  .option('--no-url', 'the file has no url column')
  .action(async (o: Parameters<typeof produceCommand>[0]) => set(await produceCommand(o)));

program
  .command('verify')
  .description('compare the doc_ids in a topic with the rows of the table')
  .requiredOption('--topic <topic>', 'topic to read from the beginning')
  .option(...tableOption)
  .option('--deletes', 'tombstones delete documents, as in docpipe run with deletes on')
  .option('--version-field <field>', "the document field holding its own version, as in docpipe run's versionField")
  .action(async (o: { topic: string; table: string; deletes?: boolean; versionField?: string }) => set(await verifyCommand(o)));

program
  .command('dlq')
  .description('work with a dead-letter topic')
  .command('replay')
  .description('send dead-lettered records back to their source topic, after the cause is fixed')
  .requiredOption('--topic <topic>', 'the dead-letter topic, e.g. documents.dlq')
  .option('--to <topic>', "send to this topic instead of each record's original one")
  .option('--rate <n>', 'records per second at most', '500')
  .option('--group <id>', 'consumer group that remembers what was replayed', 'docpipe-dlq-replay')
  .action(async (o: Parameters<typeof dlqReplayCommand>[0]) => set(await dlqReplayCommand(o)));

program
  .command('demo')
  .description('the main job end to end: generate documents, produce them, run the pipeline, verify, summarise, clean up')
  .option('--docs <n>', 'documents to generate', '50000')
  .option('--rate <n>', 'documents produced per second', '5000')
  .option('--kafka <where>', 'auto (a broker that answers, else the local one if Java is there, else the mock cluster), local or mock', 'auto')
  .option('--db <where>', 'auto (the configured MySQL if it answers, else an embedded SQLite file), mysql or sqlite', 'auto')
  .action(async (o: { docs: string; rate: string; kafka: string; db: string }) => set(await demoCommand(o)));

const main = async (): Promise<number> => {
  try {
    await program.parseAsync(process.argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; commander has already printed its message.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      console.error(`docpipe: bad configuration: ${err.message}`);
      return EXIT_USAGE;
    }
    console.error(`docpipe: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
};

main().then(
  (c) => process.exit(c),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
