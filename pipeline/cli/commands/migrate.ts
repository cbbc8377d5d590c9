/**
 * `docpipe migrate`: makes the tables `docpipe run` would write ready, with the same settings
 * (config file, DOCPIPE_* variables, flags). Without a mapping it creates or upgrades
 * `input_data`; with one it creates each missing table from the mapping, and checks an
 * existing one for every column and a unique key on the key columns, saying what is missing.
 * A table named after the topic (`${topic}`) is made for each configured topic. Idempotent.
 *
 * @example
 * ```sh
 * docpipe migrate --config docpipe.example.yaml
 * ```
 */
import { resolveRunSettings } from '../runConfig.js';
import { openDatabase } from '../../../sinks/database.js';
import { migrateInputData } from '../../../sinks/inputDataTable.js';
import { INPUT_DATA } from '../../../sinks/inputDataMapping.js';
import { compileMapping, type TableMapping } from '../../../sinks/tableMapping.js';
import { tableFor } from '../../../sinks/tableRoute.js';
import { ensureTable, tableProblem } from '../../../sinks/tableSchema.js';
import { dialectFor } from '../../../sinks/dialectFor.js';

export const migrateCommand = async (options: { config?: string | undefined; table?: string | undefined }): Promise<number> => {
  const settings = resolveRunSettings({ file: options.config, env: process.env, flags: { table: options.table } });
  const knex = openDatabase(settings.target, 1);
  try {
    const route = tableFor(settings.table);
    const tables = route.fixed !== undefined ? [route.fixed] : settings.topics.map((topic) => route.forTopic!(topic));
    const dialect = await dialectFor(knex);
    const mapping = settings.mapping
      ? compileMapping<unknown>(settings.mapping as TableMapping<unknown>)
      : compileMapping<unknown>(INPUT_DATA as TableMapping<unknown>);
    let problems = 0;
    for (const table of new Set(tables)) {
      const applied = settings.mapping ? [] : await migrateInputData(knex, table);
      // input_data's migrations ran just above; what remains is the same check as any table's.
      const report = await ensureTable(knex, dialect, table, { ...mapping, migrate: undefined }, { create: true });
      const problem =
        report &&
        tableProblem(
          report,
          mapping.key.map((k) => k.name),
        );
      if (problem) {
        problems++;
        console.error(`docpipe migrate: ${problem}`);
        continue;
      }
      if (applied.length) console.log(`applied to \`${table}\`: ${applied.join(', ')}`);
      else if (report?.created) console.log(`created ${table} from the mapping (${dialect.name})`);
      else console.log(settings.mapping ? `${table} fits the mapping` : `\`${table}\` is up to date`);
      for (const other of report?.otherUniqueKeys ?? []) {
        console.log(`warning: ${table} has another unique key, (${other.join(', ')}): an upsert that matches it updates that row instead (MySQL) or fails`);
      }
    }
    return problems === 0 ? 0 : 1;
  } catch (err) {
    console.error(`docpipe migrate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await knex.destroy();
  }
};
