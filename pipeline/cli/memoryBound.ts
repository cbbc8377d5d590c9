/**
 * The heap limits `docpipe run` starts with, derived from its in-flight budget. V8 takes them
 * only on Node's command line, before the process runs, and otherwise grows its heap lazily on
 * a machine with memory to spare: so the `docpipe` command (bin/docpipe, a shell script) asks
 * this module for them and then replaces itself with Node, keeping its PID. Run as a script it
 * prints the flags for the command line it is given; it never fails, since a bad setting is
 * for `docpipe run` to report.
 *
 * @example
 * ```sh
 * node dist/pipeline/cli/memoryBound.js run --max-inflight-bytes 67108864
 * # --max-old-space-size=320 --max-semi-space-size=8 --heap-growing-percent=100
 * ```
 *
 * ```ts
 * import { heapFlags } from './memoryBound.js';
 * heapFlags(32 * 1024 * 1024, ''); // ['--max-old-space-size=192', '--max-semi-space-size=8', '--heap-growing-percent=100']
 * ```
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { resolveRunSettings, SETTINGS } from './runConfig.js';

const MIB = 1024 * 1024;

/** The heap, the budget aside: modules, the Kafka client's and knex's objects, caches. */
export const BASE_OLD_SPACE_MB = 64;

/**
 * Old space per MiB of in-flight payload: the payload arrives as Buffers, then becomes
 * UTF-16 strings, parsed documents and encoded rows, several of them alive at once.
 */
export const OLD_SPACE_PER_BUDGET_MB = 4;

/** Below this, a small budget would leave too little room for the rest of the heap. */
export const MIN_OLD_SPACE_MB = 128;

/**
 * Each of the young generation's two halves. V8 scales it down with the old space (to about
 * 1 MB for 192), and then scavenges very often; 8 drained a backlog as fast as 16 (V8's own
 * for a large heap) for less memory (see the README's Memory section).
 */
export const SEMI_SPACE_MB = 8;

/**
 * How far V8 lets the old generation grow past what survived its last full collection before
 * the next one. Under a heap limit below 256 MB it allows 1.3×, and a backlog drained about
 * 13% slower than without the limit for that alone (the semi-space size and the arena cap
 * made no difference); 2× costs no more RSS, since the limit still bounds the heap.
 */
export const HEAP_GROWING_PERCENT = 100;

/** The opt-out: DOCPIPE_MEMORY_BOUND=off starts Node with its own defaults. */
export const MEMORY_BOUND_ENV = 'DOCPIPE_MEMORY_BOUND';

export const oldSpaceMbFor = (budgetBytes: number): number =>
  Math.max(MIN_OLD_SPACE_MB, BASE_OLD_SPACE_MB + Math.ceil((OLD_SPACE_PER_BUDGET_MB * budgetBytes) / MIB));

/** A V8 flag in a list of options, and its value if it has one; V8 reads `-` and `_` alike. */
const flagIn = (name: string, options: string): { value: number | undefined } | undefined => {
  const m = new RegExp(`(?:^|\\s)--${name.replace(/-/g, '[-_]')}(?:[=\\s]+(\\d+))?(?=\\s|$)`).exec(options);
  return m ? { value: m[1] === undefined ? undefined : Number(m[1]) } : undefined;
};
const OLD_SPACE = 'max-old-space-size';
const SEMI_SPACE = 'max-semi-space-size';
const GROWING = 'heap-growing-percent';

/**
 * Node's flags for a budget of `budgetBytes`. A setting of the user's own in NODE_OPTIONS wins:
 * the command line would override it, so that flag is left out.
 */
export const heapFlags = (budgetBytes: number, nodeOptions: string): string[] => [
  ...(flagIn(OLD_SPACE, nodeOptions) ? [] : [`--${OLD_SPACE}=${oldSpaceMbFor(budgetBytes)}`]),
  ...(flagIn(SEMI_SPACE, nodeOptions) ? [] : [`--${SEMI_SPACE}=${SEMI_SPACE_MB}`]),
  ...(flagIn(GROWING, nodeOptions) ? [] : [`--${GROWING}=${HEAP_GROWING_PERCENT}`]),
];

const DEFAULT_BUDGET_BYTES = SETTINGS.find((s) => s.key === 'budget.maxBytes')!.default as number;

/** The value of `--name value` or `--name=value` in a command line. */
const optionValue = (args: readonly string[], name: string): string | undefined => {
  let value: string | undefined;
  args.forEach((a, i) => {
    if (a === `--${name}`) value = args[i + 1];
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
  });
  return value;
};

/**
 * `docpipe run`'s budget from the same sources it reads (flags, DOCPIPE_*, the config file).
 * Settings that do not resolve fall back to the default budget: the command itself then stops
 * with the error, naming the key.
 */
export const budgetBytesOf = (args: readonly string[], env: NodeJS.ProcessEnv): number => {
  try {
    const flag = optionValue(args, 'max-inflight-bytes');
    return resolveRunSettings({ file: optionValue(args, 'config'), env, flags: flag === undefined ? {} : { 'max-inflight-bytes': flag } }).maxInFlightBytes;
  } catch {
    return DEFAULT_BUDGET_BYTES;
  }
};

/** Node's flags for the `docpipe` command line `args` (the command first): none but for `run`. */
export const boundFor = (args: readonly string[], env: NodeJS.ProcessEnv): string[] =>
  args[0] !== 'run' || env[MEMORY_BOUND_ENV] === 'off' ? [] : heapFlags(budgetBytesOf(args, env), env['NODE_OPTIONS'] ?? '');

export interface HeapLimits {
  /**
   * Where the old-space limit came from: Node's command line (bin/docpipe puts the budget's
   * there), NODE_OPTIONS, or nowhere (V8's own, grown as the machine allows).
   */
  source: 'command line' | 'NODE_OPTIONS' | 'none';
  oldSpaceMb: number | 'default';
  semiSpaceMb: number | 'default';
  /** V8's limit for the whole heap (old space and young generation), as it applies it. */
  heapLimitMb: number;
  mallocArenaMax: string;
}

/** The limits this process runs with, for its start-up log. */
export const heapLimitsInEffect = (execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): HeapLimits => {
  const argv = execArgv.join(' ');
  const options = env['NODE_OPTIONS'] ?? '';
  // Node's command line overrides NODE_OPTIONS.
  const old = flagIn(OLD_SPACE, argv) ?? flagIn(OLD_SPACE, options);
  const semi = flagIn(SEMI_SPACE, argv) ?? flagIn(SEMI_SPACE, options);
  return {
    source: flagIn(OLD_SPACE, argv) ? 'command line' : old ? 'NODE_OPTIONS' : 'none',
    oldSpaceMb: old?.value ?? 'default',
    semiSpaceMb: semi?.value ?? 'default',
    heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / MIB),
    mallocArenaMax: env['MALLOC_ARENA_MAX'] ?? 'default',
  };
};

const isScript = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (isScript) process.stdout.write(`${boundFor(process.argv.slice(2), process.env).join(' ')}\n`);
