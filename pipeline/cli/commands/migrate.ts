/**
 * `docpipe migrate`: creates or upgrades the table; idempotent.
 *
 * @example
 * ```sh
 * docpipe migrate --table input_data
 * ```
 */
import { connectionFromEnv } from '../runConfig.js';
import { createKnex } from '../../../sinks/createKnex.js';
import { migrateInputData } from '../../../sinks/inputDataTable.js';
import { describeDbError } from '../../../sinks/mysqlErrors.js';

export const migrateCommand = async (options: { table: string }): Promise<number> => {
  const { db } = connectionFromEnv(process.env);
  const knex = createKnex(db, 1);
  try {
    const applied = await migrateInputData(knex, options.table);
    console.log(applied.length ? `applied to \`${options.table}\`: ${applied.join(', ')}` : `\`${options.table}\` is up to date`);
    return 0;
  } catch (err) {
    console.error(`docpipe migrate: ${describeDbError(err)}`);
    return 1;
  } finally {
    await knex.destroy();
  }
};
