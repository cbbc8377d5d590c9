/**
 * Memory bound: `docpipe run` as its own process against a topic with a large backlog while
 * the table is locked by another session, so nothing can be written. Samples the process's
 * RSS throughout; returns the largest.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

const rssBytes = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
};

export const stalledSinkRss = async (env: Record<string, string>, seconds: number): Promise<{ maxRssBytes: number; samples: number[] }> => {
  const cli = resolve(import.meta.dirname, '../pipeline/cli.js');
  const child = spawn(process.execPath, [cli, 'run'], { env: { ...process.env, DOCPIPE_LOG_LEVEL: 'warn', ...env }, stdio: 'inherit' });
  const samples: number[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until && child.exitCode === null) {
    samples.push(await rssBytes(child.pid!).catch(() => 0));
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  return { maxRssBytes: Math.max(...samples), samples };
};
