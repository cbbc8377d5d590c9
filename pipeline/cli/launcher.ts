/**
 * `docpipe run` started by the docpipe command (bin/docpipe), which stays as Node's parent to
 * hold stop signals through Node's bootstrap. Tells it that this process now handles them
 * (SIGUSR2), and ends this process at once if the command is killed without it: the two are
 * one pipeline to whoever stops them, and an orphan would go on reading unsupervised.
 *
 * @example
 * ```ts
 * import { holdEarlySignals } from './earlySignals.js';
 * import { joinLauncher } from './launcher.js';
 * holdEarlySignals();
 * joinLauncher(); // after the handlers, so that a stop passed on at once is handled
 * ```
 */

export const LAUNCHER_ENV = 'DOCPIPE_LAUNCHER_PID';

/** How often the parent is looked at; how long an orphan may outlive the command. */
const WATCH_MS = 200;

/** Says whether a launcher was found (and told). */
export const joinLauncher = (env: NodeJS.ProcessEnv = process.env): boolean => {
  const launcher = Number(env[LAUNCHER_ENV]);
  // Not for processes this one starts (the worker threads share the environment).
  delete env[LAUNCHER_ENV];
  // A variable left over from elsewhere names a process that is not this one's parent.
  if (!Number.isInteger(launcher) || launcher < 1 || process.ppid !== launcher) return false;
  process.kill(launcher, 'SIGUSR2');
  // Linux has no portable parent-death signal from Node: the parent changes when it dies.
  setInterval(() => {
    if (process.ppid !== launcher) process.kill(process.pid, 'SIGKILL');
  }, WATCH_MS).unref();
  return true;
};
