/**
 * `docpipe run` as a child process, as it runs in production, for the scenarios that watch a
 * process from outside (its memory) or must not share an event loop with the producer (its
 * latency). Settings go in through DOCPIPE_* variables; stopping sends SIGTERM (a graceful
 * drain) and falls back to SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BenchContext } from './context.js';

export interface DocpipeProcess {
  readonly child: ChildProcess;
  /** Resident set size now, from /proc (0 once the process is gone). */
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

export const startDocpipe = (ctx: BenchContext, settings: Record<string, string>): DocpipeProcess => {
  const cli = resolve(import.meta.dirname, '../pipeline/cli/main.js');
  const env = {
    ...process.env,
    DOCPIPE_KAFKA_BROKERS: ctx.brokers,
    DOCPIPE_DB_HOST: ctx.db.host,
    DOCPIPE_DB_PORT: String(ctx.db.port),
    DOCPIPE_DB_USER: ctx.db.user,
    DOCPIPE_DB_PASSWORD: ctx.db.password,
    DOCPIPE_DB_NAME: ctx.db.database,
    DOCPIPE_LOG_LEVEL: 'warn',
    // No operations port: it could clash with a docpipe running beside the benchmark.
    DOCPIPE_METRICS_PORT: '0',
    ...settings,
  };
  const child = spawn(process.execPath, [cli, 'run'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  return {
    child,
    rssBytes: async () => {
      if (child.exitCode !== null || child.pid === undefined) return 0;
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
};
