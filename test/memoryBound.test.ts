import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import ts from 'typescript';
import { spawnClean } from './helpers/spawnClean.js';
import { waitFor } from './helpers/wait.js';
import { budgetBytesOf, heapLimitsInEffect } from '../pipeline/cli/memoryBound.js';

const MIB = 1024 * 1024;
const root = resolve(import.meta.dirname, '..');

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
});

t.test('settings that do not resolve give the default budget, for the command to report', async (t) => {
  t.equal(budgetBytesOf(['run'], { DOCPIPE_MAX_INFLIGHT_BYTES: 'lots' }), 32 * MIB);
  t.equal(budgetBytesOf(['run'], { DOCPIPE_DB_PORT: 'x' }), 32 * MIB, 'another bad setting');
  t.equal(budgetBytesOf(['run', '--config', '/nonexistent/docpipe.yaml'], {}), 32 * MIB, 'a missing file');
  t.equal(budgetBytesOf(['run', '--max-inflight-bytes'], {}), 32 * MIB, 'a flag without its value');
});

t.test('the limits in effect, for the start-up log', async (t) => {
  t.match(heapLimitsInEffect(['--max-old-space-size=192', '--max-semi-space-size=2', '--heap-growing-percent=50'], { MALLOC_ARENA_MAX: '2' }), {
    source: 'command line',
    oldSpaceMb: 192,
    semiSpaceMb: 2,
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
 * The command script against stand-ins for the built files: the settings helper prints a
 * budget (or fails, or waits to be stopped), the entry reports how Node was started.
 */
const fakePackage = (t: Test, helper = 'console.log(128 * 1024 * 1024);\n', entry?: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'docpipe-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist/pipeline/cli'), { recursive: true });
  copyFileSync(join(root, 'bin/docpipe'), join(dir, 'bin/docpipe'));
  chmodSync(join(dir, 'bin/docpipe'), 0o755);
  writeFileSync(join(dir, 'dist/pipeline/cli/memoryBound.js'), helper);
  // The real handshake with the command, compiled as it ships.
  const launcher = ts.transpileModule(readFileSync(join(root, 'pipeline/cli/launcher.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  writeFileSync(join(dir, 'dist/pipeline/cli/launcher.mjs'), launcher.outputText);
  writeFileSync(join(dir, 'dist/package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(dir, 'dist/pipeline/cli/main.js'),
    entry ??
      'console.log(JSON.stringify({ pid: process.pid, ppid: process.ppid, execArgv: process.execArgv, args: process.argv.slice(2), arenas: process.env.MALLOC_ARENA_MAX ?? null }));\n',
  );
  return join(dir, 'bin/docpipe');
};

interface Started {
  pid: number;
  ppid: number;
  spawnedPid: number;
  execArgv: string[];
  args: string[];
  arenas: string | null;
}

const launch = (command: string, args: string[], env: Record<string, string> = {}, onSpawn?: (pid: number) => void) =>
  new Promise<{ code: number | null; out: Started | undefined }>((done) => {
    const { MALLOC_ARENA_MAX: _arenas, DOCPIPE_MEMORY_BOUND: _bound, NODE_OPTIONS: _options, DOCPIPE_MAX_INFLIGHT_BYTES: _budget, ...inherited } = process.env;
    const { NODE_OPTIONS: options, ...rest } = env;
    // The test runner puts its own NODE_OPTIONS into the processes it sees spawned: a user's are
    // set after the spawn.
    const [file, argv] = options === undefined ? [command, args] : ['sh', ['-c', 'NODE_OPTIONS=$0; export NODE_OPTIONS; exec "$@"', options, command, ...args]];
    const child = spawn(file, argv, { env: { ...inherited, ...rest }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    if (onSpawn) onSpawn(child.pid!);
    child.on('exit', (code) => done({ code, out: out.trim() ? { ...(JSON.parse(out) as Started), spawnedPid: child.pid! } : undefined }));
  });

const oldSpace = (r: { out: Started | undefined }) => r.out?.execArgv.find((f) => f.startsWith('--max-old-space-size='));

t.test('the command starts Node with the limits, as its child for run', async (t) => {
  const bin = fakePackage(t);
  // Through a link, the way npm installs it.
  const link = join(dirname(dirname(bin)), 'docpipe-link');
  symlinkSync(bin, link);
  const r = await launch(link, ['run', '--topics', 'a b']);
  t.equal(r.code, 0);
  t.same(r.out?.execArgv, ['--max-old-space-size=192', '--max-semi-space-size=4', '--heap-growing-percent=100'], 'the default budget');
  t.same(r.out?.args, ['run', '--topics', 'a b'], 'the arguments as given');
  t.equal(r.out?.ppid, r.out?.spawnedPid, "run: Node is the command's child");
  t.equal(r.out?.arenas, '2');
  const other = await launch(link, ['migrate']);
  t.equal(other.out?.pid, other.out?.spawnedPid, 'other commands: Node replaces the command');
});

t.test('the old space follows the budget as docpipe run reads it', async (t) => {
  const bin = fakePackage(t);
  const mib = (n: number) => String(n * MIB);
  t.equal(oldSpace(await launch(bin, ['run'], { DOCPIPE_MAX_INFLIGHT_BYTES: mib(64) })), '--max-old-space-size=320', 'the environment');
  t.equal(
    oldSpace(await launch(bin, ['run', '--max-inflight-bytes', mib(16)], { DOCPIPE_MAX_INFLIGHT_BYTES: mib(64) })),
    '--max-old-space-size=128',
    'a flag over it; the floor',
  );
  t.equal(oldSpace(await launch(bin, ['run', `--max-inflight-bytes=${mib(48)}`])), '--max-old-space-size=256', '--flag=value');
  t.equal(oldSpace(await launch(bin, ['run'], { DOCPIPE_MAX_INFLIGHT_BYTES: String(32 * MIB + 1) })), '--max-old-space-size=193', 'rounded up');
  t.equal(oldSpace(await launch(bin, ['run', '--config', 'docpipe.yaml'])), '--max-old-space-size=576', 'a config file: the settings helper tells');
  t.equal(oldSpace(await launch(bin, ['run'], { DOCPIPE_MAX_INFLIGHT_BYTES: '1e8' })), '--max-old-space-size=576', 'so does a form only the parser knows');
  t.equal(
    oldSpace(await launch(bin, ['run', '--config', 'docpipe.yaml'], { DOCPIPE_MAX_INFLIGHT_BYTES: mib(64) })),
    '--max-old-space-size=320',
    'the environment over the file',
  );
});

t.test("a setting of the user's own in NODE_OPTIONS wins", async (t) => {
  const bin = fakePackage(t);
  const argv = async (options: string) => (await launch(bin, ['run'], { NODE_OPTIONS: options })).out?.execArgv;
  t.same(await argv('--max-old-space-size=512'), ['--max-semi-space-size=4', '--heap-growing-percent=100']);
  t.same(await argv('--enable-source-maps --max_old_space_size=512'), ['--max-semi-space-size=4', '--heap-growing-percent=100'], 'underscores');
  t.same(await argv('--max-semi-space-size=32'), ['--max-old-space-size=192', '--heap-growing-percent=100']);
  t.same(
    await argv('--title=--max-old-space-size=1'),
    ['--max-old-space-size=192', '--max-semi-space-size=4', '--heap-growing-percent=100'],
    'only a flag of its own',
  );
});

t.test("the user's arena setting, other commands and the opt-out", async (t) => {
  const bin = fakePackage(t);
  t.equal((await launch(bin, ['run'], { MALLOC_ARENA_MAX: '4' })).out?.arenas, '4');
  t.equal((await launch(bin, ['run'], { MALLOC_ARENA_MAX: '' })).out?.arenas, '', 'empty: glibc decides');
  t.match((await launch(bin, ['migrate'])).out, { execArgv: [], arenas: null });
  t.match((await launch(bin, ['run'], { DOCPIPE_MEMORY_BOUND: 'off' })).out, { execArgv: [], arenas: null });
});

t.test('a settings helper that fails leaves the default budget, for the command to report', async (t) => {
  const bin = fakePackage(t, 'process.exit(3);\n');
  const r = await launch(bin, ['run', '--config', 'docpipe.yaml']);
  t.equal(r.code, 0);
  t.equal(oldSpace(r), '--max-old-space-size=192');
});

t.test('a stop request while the budget is worked out ends the start with 0', async (t) => {
  const bin = fakePackage(t, 'setTimeout(() => console.log(1), 1500);\n');
  const r = await launch(bin, ['run', '--config', 'docpipe.yaml'], {}, (pid) => setTimeout(() => process.kill(pid, 'SIGTERM'), 500));
  t.equal(r.code, 0);
  t.equal(r.out, undefined, 'Node was not started');
});

// ---- the command as Node's parent, for run ---------------------------------------------------

/**
 * An entry that stands for Node's bootstrap: it says `booting` and then busies itself for
 * `bootMs` with no handler (as Node's own start-up has none), then holds SIGTERM and SIGINT,
 * joins the command and says `ready`. A stop reaching it says `stopped` and exits 0.
 */
const slowEntry = (bootMs: number, exitCode = 0) => `
import { joinLauncher } from './launcher.mjs';
process.stdout.write('booting\\n');
const until = Date.now() + ${bootMs};
while (Date.now() < until);
const stop = (signal) => { process.stdout.write('stopped ' + signal + '\\n'); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write((joinLauncher() ? 'ready ' : 'alone ') + process.pid + '\\n');
setTimeout(() => process.exit(${exitCode}), ${exitCode ? 0 : 60_000});
`;

interface Supervised {
  pid: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the output holds `text`. */
  saw: (text: string) => Promise<void>;
}

const supervise = (command: string, detached = false): Supervised => {
  const child = spawnClean(
    command,
    ['run'],
    { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin` },
    { stdio: ['ignore', 'pipe', 'inherit'], detached },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    pid: child.pid!,
    output: () => out,
    exited: new Promise((done) => child.on('exit', (code, signal) => done({ code, signal }))),
    saw: async (text) => void (await waitFor(() => out.includes(text), `"${text}" from the entry`, 10_000, 5)),
  };
};

/** Running, not a zombie: an orphan's new parent may be slow to reap it. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test("a stop request during Node's bootstrap is held and handed over: exit 0", async (t) => {
  const bin = fakePackage(t, undefined, slowEntry(400));
  const run = supervise(bin);
  await run.saw('booting');
  process.kill(run.pid, 'SIGTERM');
  t.same(await run.exited, { code: 0, signal: null });
  t.match(run.output(), /ready \d+\nstopped SIGTERM/, 'Node handled the stop once it could');
});

t.test('after the handshake each stop is passed on, and the exit code is kept', async (t) => {
  const bin = fakePackage(t, undefined, slowEntry(0));
  const run = supervise(bin);
  await run.saw('ready');
  process.kill(run.pid, 'SIGINT');
  t.same(await run.exited, { code: 0, signal: null });
  t.match(run.output(), /stopped SIGINT/);
  const failing = supervise(fakePackage(t, undefined, slowEntry(0, 7)));
  t.same(await failing.exited, { code: 7, signal: null }, "Node's own exit code");
});

t.test("a stop sent to the whole process group during Node's bootstrap exits 0", async (t) => {
  // A service manager that signals every process of the unit: Node dies of SIGTERM in its
  // bootstrap, before it could have read anything.
  const term = supervise(fakePackage(t, undefined, slowEntry(400)), true);
  await term.saw('booting');
  process.kill(-term.pid, 'SIGTERM');
  t.same(await term.exited, { code: 0, signal: null }, 'SIGTERM');
  t.notMatch(term.output(), /ready/, 'Node ended by the signal before it handled one');
  // A terminal's Ctrl-C: the shell starts Node with SIGINT ignored, so Node handles it once ready.
  const int = supervise(fakePackage(t, undefined, slowEntry(400)), true);
  await int.saw('booting');
  process.kill(-int.pid, 'SIGINT');
  t.same(await int.exited, { code: 0, signal: null }, 'SIGINT');
});

t.test('Node ends itself when the command is killed', async (t) => {
  const bin = fakePackage(t, undefined, slowEntry(0));
  const run = supervise(bin);
  await run.saw('ready');
  const node = Number(/ready (\d+)/.exec(run.output())![1]);
  t.ok(alive(node), 'Node runs');
  process.kill(run.pid, 'SIGKILL');
  await run.exited;
  t.ok(await waitFor(() => !alive(node), 'Node to end', 5000, 20), 'Node is gone within the deadline');
});
