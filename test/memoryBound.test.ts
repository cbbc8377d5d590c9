import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { boundFor, budgetBytesOf, HEAP_GROWING_PERCENT, heapFlags, heapLimitsInEffect, oldSpaceMbFor, SEMI_SPACE_MB } from '../pipeline/cli/memoryBound.js';

const MIB = 1024 * 1024;
const root = resolve(import.meta.dirname, '..');

t.test('the old space grows with the budget, from a floor', async (t) => {
  t.equal(oldSpaceMbFor(32 * MIB), 192, 'the default budget');
  t.equal(oldSpaceMbFor(64 * MIB), 320);
  t.equal(oldSpaceMbFor(1 * MIB), 128, 'a small budget gets the floor');
  t.equal(oldSpaceMbFor(32 * MIB + 1), 193, 'rounded up');
});

t.test("a setting of the user's own in NODE_OPTIONS wins", async (t) => {
  const semi = `--max-semi-space-size=${SEMI_SPACE_MB}`;
  const growing = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
  const ours = ['--max-old-space-size=192', semi, growing];
  t.same(heapFlags(32 * MIB, ''), ours);
  t.same(heapFlags(32 * MIB, '--enable-source-maps'), ours);
  t.same(heapFlags(32 * MIB, '--max-old-space-size=512'), [semi, growing]);
  t.same(heapFlags(32 * MIB, '--trace-gc --max_old_space_size 512'), [semi, growing], 'underscores and a separate value');
  t.same(heapFlags(32 * MIB, '--max-semi-space-size=32'), ['--max-old-space-size=192', growing]);
  t.same(heapFlags(32 * MIB, '--heap-growing-percent=50'), ['--max-old-space-size=192', semi]);
  t.same(heapFlags(32 * MIB, '--max-old-space-size-x=1'), ours, 'another flag is not taken for it');
});

t.test('the budget comes from the same sources as docpipe run reads', async (t) => {
  t.equal(budgetBytesOf(['run'], {}), 32 * MIB, 'the default');
  t.equal(budgetBytesOf(['run'], { DOCPIPE_MAX_INFLIGHT_BYTES: String(64 * MIB) }), 64 * MIB, 'the environment');
  t.equal(budgetBytesOf(['run', '--max-inflight-bytes', String(16 * MIB)], { DOCPIPE_MAX_INFLIGHT_BYTES: String(64 * MIB) }), 16 * MIB, 'a flag over it');
  t.equal(budgetBytesOf(['run', `--max-inflight-bytes=${8 * MIB}`], {}), 8 * MIB, '--flag=value');
  const dir = mkdtempSync(join(tmpdir(), 'docpipe-memory-bound-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'docpipe.yaml');
  writeFileSync(file, `budget:\n  maxBytes: ${128 * MIB}\n`);
  t.equal(budgetBytesOf(['run', '--config', file], {}), 128 * MIB, 'the config file');
  t.same(boundFor(['run', '--config', file], {})[0], '--max-old-space-size=576');
});

t.test('settings that do not resolve give the default budget, for the command to report', async (t) => {
  t.equal(budgetBytesOf(['run'], { DOCPIPE_MAX_INFLIGHT_BYTES: 'lots' }), 32 * MIB);
  t.equal(budgetBytesOf(['run'], { DOCPIPE_DB_PORT: 'x' }), 32 * MIB, 'another bad setting');
  t.equal(budgetBytesOf(['run', '--config', '/nonexistent/docpipe.yaml'], {}), 32 * MIB, 'a missing file');
  t.equal(budgetBytesOf(['run', '--max-inflight-bytes'], {}), 32 * MIB, 'a flag without its value');
});

t.test('only run is bounded, unless turned off', async (t) => {
  t.equal(boundFor(['run'], {}).length, 3);
  t.same(boundFor(['migrate'], {}), []);
  t.same(boundFor([], {}), []);
  t.same(boundFor(['run'], { DOCPIPE_MEMORY_BOUND: 'off' }), []);
});

t.test('the limits in effect, for the start-up log', async (t) => {
  t.match(heapLimitsInEffect(['--max-old-space-size=192', '--max-semi-space-size=8'], { MALLOC_ARENA_MAX: '2' }), {
    source: 'command line',
    oldSpaceMb: 192,
    semiSpaceMb: 8,
    mallocArenaMax: '2',
  });
  t.match(heapLimitsInEffect([], { NODE_OPTIONS: '--max-old-space-size=512' }), {
    source: 'NODE_OPTIONS',
    oldSpaceMb: 512,
    semiSpaceMb: 'default',
    mallocArenaMax: 'default',
  });
  t.match(heapLimitsInEffect([], {}), { source: 'none' });
  t.ok(heapLimitsInEffect([], {}).heapLimitMb > 0, "V8's own figure");
});

/**
 * The command script against stand-ins for the built files: the helper prints fixed flags (or
 * waits, to be stopped), the entry reports how Node was started.
 */
const fakePackage = (t: Test, helper: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'docpipe-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist/pipeline/cli'), { recursive: true });
  copyFileSync(join(root, 'bin/docpipe'), join(dir, 'bin/docpipe'));
  chmodSync(join(dir, 'bin/docpipe'), 0o755);
  writeFileSync(join(dir, 'dist/pipeline/cli/memoryBound.js'), helper);
  writeFileSync(
    join(dir, 'dist/pipeline/cli/main.js'),
    'console.log(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, args: process.argv.slice(2), arenas: process.env.MALLOC_ARENA_MAX ?? null }));\n',
  );
  return dir;
};
const PRINTS_FLAGS = "console.log('--max-old-space-size=192 --max-semi-space-size=8');\n";

const launch = (command: string, args: string[], env: Record<string, string>, onSpawn?: (pid: number) => void) =>
  new Promise<{ code: number | null; out: Record<string, unknown> | undefined }>((done) => {
    const { MALLOC_ARENA_MAX: _arenas, DOCPIPE_MEMORY_BOUND: _bound, ...inherited } = process.env;
    const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    if (onSpawn) onSpawn(child.pid!);
    child.on('exit', (code) => {
      const parsed = out.trim() ? (JSON.parse(out) as Record<string, unknown>) : undefined;
      if (parsed) parsed['spawnedPid'] = child.pid;
      done({ code, out: parsed });
    });
  });

t.test('the command execs Node with the flags, as the same process', async (t) => {
  const dir = fakePackage(t, PRINTS_FLAGS);
  // Through a link, the way npm installs it.
  symlinkSync(join(dir, 'bin/docpipe'), join(dir, 'docpipe-link'));
  const r = await launch(join(dir, 'docpipe-link'), ['run', '--topics', 'a b'], {});
  t.equal(r.code, 0);
  t.same(r.out?.['execArgv'], ['--max-old-space-size=192', '--max-semi-space-size=8']);
  t.same(r.out?.['args'], ['run', '--topics', 'a b'], 'the arguments as given');
  t.equal(r.out?.['pid'], r.out?.['spawnedPid'], 'the PID that was started');
  t.equal(r.out?.['arenas'], '2');
});

t.test("the user's arena setting, other commands and the opt-out", async (t) => {
  const dir = fakePackage(t, PRINTS_FLAGS);
  const bin = join(dir, 'bin/docpipe');
  t.equal((await launch(bin, ['run'], { MALLOC_ARENA_MAX: '4' })).out?.['arenas'], '4');
  t.equal((await launch(bin, ['run'], { MALLOC_ARENA_MAX: '' })).out?.['arenas'], '', 'empty: glibc decides');
  t.match((await launch(bin, ['migrate'], {})).out, { execArgv: [], arenas: null });
  t.match((await launch(bin, ['run'], { DOCPIPE_MEMORY_BOUND: 'off' })).out, { execArgv: [], arenas: null });
});

t.test('a helper that fails leaves the command to run as is', async (t) => {
  const dir = fakePackage(t, 'process.exit(3);\n');
  const r = await launch(join(dir, 'bin/docpipe'), ['run'], {});
  t.equal(r.code, 0);
  t.same(r.out?.['execArgv'], []);
});

t.test('a stop request while the limits are worked out ends the start with 0', async (t) => {
  const dir = fakePackage(t, "setTimeout(() => console.log('--max-semi-space-size=8'), 1500);\n");
  const r = await launch(join(dir, 'bin/docpipe'), ['run'], {}, (pid) => setTimeout(() => process.kill(pid, 'SIGTERM'), 500));
  t.equal(r.code, 0);
  t.equal(r.out, undefined, 'Node was not started');
});
