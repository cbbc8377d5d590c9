// A process and its descendants, from Linux's /proc: `docpipe run` is the docpipe command (a
// shell) with Node as its child, and both are the pipeline to whoever measures or kills it.
import { readFileSync } from 'node:fs';

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((p) => p.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
};

/** `pid` and every process below it, parents first. */
export const processTree = (pid: number): number[] => {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...childrenOf(tree[i]!));
  return tree;
};

/** Resident set of the tree now, and the sum of each process's own peak (VmHWM), in MB. */
export const treeRssMb = (pid: number): { rss: number; peak: number } => {
  let rss = 0;
  let peak = 0;
  for (const p of processTree(pid)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${p}/status`, 'utf8');
    } catch {
      continue;
    }
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    peak += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  return { rss, peak };
};

/** Sends `signal` to the tree, children first, so that no child outlives its parent's end unsignalled. */
export const signalTree = (pid: number, signal: NodeJS.Signals): void => {
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p, signal);
    } catch {
      // Already gone.
    }
  }
};
