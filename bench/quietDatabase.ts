/**
 * Waits, up to a deadline, until MariaDB has written back nearly all its dirty pages: right
 * after a test suite (as in CI) InnoDB is still flushing what the tests wrote, and the first
 * rounds of a run would share the disk and the cores with that. Gives up quietly at the
 * deadline: a busy machine is reported by the figures, not refused.
 *
 *   const waited = await quietDatabase(ctx.knex); // ms spent waiting
 */
import type { Knex } from 'knex';

const status = async (knex: Knex, name: string): Promise<number> => {
  const [rows] = (await knex.raw('SHOW GLOBAL STATUS LIKE ?', [name])) as [{ Value: string }[]];
  return Number(rows[0]?.Value ?? 0);
};

export const quietDatabase = async (knex: Knex, { maxDirtyShare = 0.01, deadlineMs = 60_000, pollMs = 500 } = {}): Promise<number> => {
  const started = Date.now();
  const total = await status(knex, 'Innodb_buffer_pool_pages_total');
  while (Date.now() - started < deadlineMs) {
    if ((await status(knex, 'Innodb_buffer_pool_pages_dirty')) <= total * maxDirtyShare) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return Date.now() - started;
};
