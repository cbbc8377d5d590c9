#!/usr/bin/env node
// Runs the fault-injection suite (or its CI subset with --ci, or the files given) with tap and
// prints one line per fault from the figures each test reports: documents produced and
// acknowledged, lost and duplicate rows (both must be 0), dead letters, largest RSS.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const ALL = [
  'sigkill',
  'sigterm-slow-write',
  'membership-churn',
  'broker-failure',
  'mariadb-outage',
  'deadlocks',
  'connection-killed',
  'db-stall',
  'poison',
  'dlq-unwritable',
  'new-group',
  'shutdown-unreachable',
  'sasl-security',
  'versions-deletes',
  'db-read-only',
  'sigterm-at-start',
  'restart-resume',
  'dlq-refusing',
];
// One fault of each kind — process crash, graceful stop, broker outage, database outage,
// database errors, bad data, security — within CI's time.
const CI = ['sigkill', 'sigterm-slow-write', 'broker-failure', 'mariadb-outage', 'connection-killed', 'poison', 'sasl-security'];

const args = process.argv.slice(2);
const names = args.includes('--ci') ? CI : args.filter((a) => !a.startsWith('--'));
const files = (names.length ? names : ALL).map((n) => (n.endsWith('.ts') ? n : `test/faults/${n}.test.ts`));

const dir = mkdtempSync(join(tmpdir(), 'docpipe-fault-figures-'));
const figuresFile = join(dir, 'figures.jsonl');
const started = Date.now();
const tap = spawnSync('npx', ['tap', '--disable-coverage', '--timeout=600', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DOCPIPE_FAULT_FIGURES: figuresFile },
});
const seconds = Math.round((Date.now() - started) / 1000);

let figures = [];
try {
  figures = readFileSync(figuresFile, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch {
  // no test got as far as its verdict
}
rmSync(dir, { recursive: true, force: true });

// Restart-to-first-new-row, where a fault restarts a member and measures it.
const header = ['fault', 'produced', 'acknowledged', 'lost', 'duplicates', 'dead letters', 'largest RSS (MB)', 'members', 'resumed (s)'];
const rows = figures.map((f) =>
  [f.fault, f.produced, f.acknowledged, f.lost, f.duplicates, f.deadLettered, `${f.maxRssMb} / ${f.rssBudgetMb}`, f.members, f.resumeSeconds ?? '–'].map(
    String,
  ),
);
const sum = (k) => figures.reduce((a, f) => a + f[k], 0);
rows.push(
  [
    'total',
    sum('produced'),
    sum('acknowledged'),
    sum('lost'),
    sum('duplicates'),
    sum('deadLettered'),
    `${Math.max(0, ...figures.map((f) => f.maxRssMb))} max`,
    sum('members'),
    '',
  ].map(String),
);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(`\nFault-injection suite: ${files.length} files, ${figures.length} verdicts, ${seconds} s\n`);
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
const bad = sum('lost') + sum('duplicates');
if (bad > 0) console.log(`\n${bad} documents lost or duplicated`);
process.exit(tap.status === 0 && bad === 0 ? 0 : 1);
