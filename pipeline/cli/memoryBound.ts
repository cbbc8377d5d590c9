/**
 * What bounds the heap of `docpipe run`. The docpipe command (bin/docpipe, a shell script)
 * derives V8's limits from the in-flight budget and execs Node with them, since V8 takes them
 * only when it starts; when only the settings parser can tell the budget (a config file, a
 * value not in plain digits), it runs this module as a script, which prints the budget in bytes
 * and never fails: a bad setting is for `docpipe run` to report. `docpipe run` logs the limits
 * in effect at start.
 *
 * @example
 * ```sh
 * node dist/pipeline/cli/memoryBound.js run --config docpipe.yaml   # 33554432
 * ```
 *
 * ```ts
 * import { budgetBytesOf, heapLimitsInEffect } from './memoryBound.js';
 * budgetBytesOf(['run', '--max-inflight-bytes', '67108864'], process.env); // 67108864
 * heapLimitsInEffect(); // { source: 'command line', oldSpaceMb: 192, semiSpaceMb: 4, heapLimitMb: 204, mallocArenaMax: '2' }
 * ```
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { resolveRunSettings, SETTINGS } from './runConfig.js';

const MIB = 1024 * 1024;

/** The opt-out: DOCPIPE_MEMORY_BOUND=off starts Node with its own defaults. */
export const MEMORY_BOUND_ENV = 'DOCPIPE_MEMORY_BOUND';

/** A V8 flag in a list of options, and its value if it has one; V8 reads `-` and `_` alike. */
const flagIn = (name: string, options: string): { value: number | undefined } | undefined => {
  const m = new RegExp(`(?:^|\\s)--${name.replace(/-/g, '[-_]')}(?:[=\\s]+(\\d+))?(?=\\s|$)`).exec(options);
  return m ? { value: m[1] === undefined ? undefined : Number(m[1]) } : undefined;
};
const OLD_SPACE = 'max-old-space-size';
const SEMI_SPACE = 'max-semi-space-size';

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

if (isScript) process.stdout.write(`${budgetBytesOf(process.argv.slice(2), process.env)}\n`);
