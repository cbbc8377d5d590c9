// The version rule decides twice, in SQL (the guard of every upsert) and in JavaScript (within a
// batch, and to count what was stale): both must give the same answer for every pair, on every
// database, or rows and counts would disagree.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createSqliteKnex } from '../sinks/sqliteDatabase.js';
import { isNewer, newerSql, type RowVersion, type VersionRule } from '../sinks/versionRule.js';
import { freshDatabase } from './helpers/stack.js';

const stored = { topic: 'documents', partition: 0, offset: 41, timestamp: 1_700_000_000_000, external: null };

t.test('the rule, case by case', async (t) => {
  const p = (v: Partial<RowVersion>): boolean => isNewer('position', { ...stored, ...v }, stored);
  t.ok(p({ offset: 42 }), 'same partition, later offset');
  t.ok(p({ offset: 42, timestamp: 1 }), 'same partition, later offset, even with an earlier timestamp');
  t.notOk(p({}), 'a redelivery of the stored record');
  t.notOk(p({ offset: 40, timestamp: stored.timestamp - 1 }), 'an earlier record of the same partition');
  t.ok(p({ offset: 0, timestamp: stored.timestamp + 1 }), 'offset 0 of a re-created topic, later by its timestamp');
  t.ok(p({ topic: 'documents-eu', offset: 3, timestamp: stored.timestamp + 1 }), 'another topic, later');
  t.notOk(p({ topic: 'documents-eu', offset: 99, timestamp: stored.timestamp - 1 }), 'another topic, earlier, at a higher offset');
  t.ok(p({ partition: 1, offset: 0 }), 'another partition, same millisecond: the greater position');
  t.notOk(p({ topic: 'a-topic', offset: 99 }), 'another topic, same millisecond, smaller name');
  t.ok(p({ topic: 'z-topic', timestamp: null }) === false, 'no timestamp counts as older');
  const legacy = { ...stored, topic: null, timestamp: null };
  t.ok(isNewer('position', { ...stored, offset: 42 }, legacy), 'a row from before topics were kept: same partition, later offset');
  t.notOk(isNewer('position', { ...stored, offset: 40 }, legacy), 'a row from before topics were kept: an earlier offset');
  t.ok(isNewer('position', { ...stored, partition: 3, offset: 0 }, legacy), 'a row from before timestamps were kept, another partition');

  const e = (incoming: bigint | null, was: bigint | null): boolean => isNewer('external', { ...stored, external: incoming }, { ...stored, external: was });
  t.ok(e(3n, 2n));
  t.notOk(e(2n, 2n), 'the same version changes nothing');
  t.notOk(e(1n, 2n));
  t.ok(e(1n, null), 'a row without a version yet');
});

// Small ranges, so that equal offsets, timestamps and partitions come up often.
const random = (n: number): (() => number) => {
  let seed = n;
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
};
const pairs = (count: number): [RowVersion, RowVersion][] => {
  const r = random(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const version = (storedSide: boolean): RowVersion => ({
    topic: pick(storedSide ? ['a', 'b', null] : ['a', 'b']),
    partition: pick([0, 1]),
    offset: pick([0, 1, 2]),
    timestamp: pick([100, 101, null]),
    external: pick(storedSide ? [1n, 2n, null] : [1n, 2n, 3n]),
  });
  return Array.from({ length: count }, () => [version(false), version(true)]);
};

/** The pairs on which the SQL condition and `isNewer` disagree, by rule, and how many were compared. */
const disagreements = async (knex: Knex, quote: (c: string) => string): Promise<{ compared: number; position: unknown[]; external: unknown[] }> => {
  const cols = ['topic', 'partition', 'offset', 'timestamp', 'external'] as const;
  const names = { topic: 'src_topic', partition: 'src_partition', offset: 'src_offset', timestamp: 'src_ts', external: 'doc_version' };
  await knex.schema.createTable('pairs', (tb) => {
    tb.integer('id').primary();
    for (const side of ['i', 's']) {
      tb.string(`${side}_src_topic`);
      tb.integer(`${side}_src_partition`);
      tb.bigInteger(`${side}_src_offset`);
      tb.bigInteger(`${side}_src_ts`);
      tb.bigInteger(`${side}_doc_version`);
    }
  });
  const all = pairs(600);
  await knex.batchInsert(
    'pairs',
    all.map(([i, s], id) => {
      const row: Record<string, unknown> = { id };
      for (const c of cols) {
        const value = (v: RowVersion) => (c === 'external' ? (v.external === null ? null : v.external.toString()) : v[c]);
        row[`i_${names[c]}`] = value(i);
        row[`s_${names[c]}`] = value(s);
      }
      return row;
    }),
    200,
  );
  const out = { compared: all.length, position: [] as unknown[], external: [] as unknown[] };
  for (const rule of ['position', 'external'] as VersionRule[]) {
    const sql = newerSql(
      rule,
      (c) => quote(`i_${c}`),
      (c) => quote(`s_${c}`),
    );
    const rows = (await knex('pairs')
      .select('id', knex.raw(`CASE WHEN ${sql} THEN 1 ELSE 0 END AS newer`))
      .orderBy('id')) as { id: number; newer: number | string | bigint }[];
    const disagree = rows.filter((row) => (Number(row.newer) === 1) !== isNewer(rule, all[row.id]![0], all[row.id]![1]));
    out[rule] = disagree.map((row) => all[row.id]);
  }
  return out;
};

t.test('SQL and JavaScript agree: MariaDB', async (t) => {
  const { knex } = await freshDatabase(t);
  const d = await disagreements(knex, (c) => `\`${c}\``);
  t.equal(d.compared, 600);
  t.same(d.position, [], 'by position');
  t.same(d.external, [], 'by external version');
});

t.test('SQL and JavaScript agree: SQLite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'docpipe-rule-'));
  const knex = createSqliteKnex(join(dir, 'rule.db'));
  t.teardown(async () => {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const d = await disagreements(knex, (c) => `"${c}"`);
  t.equal(d.compared, 600);
  t.same(d.position, [], 'by position');
  t.same(d.external, [], 'by external version');
});
