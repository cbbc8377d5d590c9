// Starts a command with exactly the environment given. tap adds its own variables (and a
// NODE_OPTIONS --import of its process tracker, which installs signal handlers) to every
// process a test starts, whatever environment the test passes; `env -i` starts the command
// clean, as a user's shell or a container runtime would.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Test runner variables that must not reach a process started as a user would start it. */
const RUNNER = /^(NODE_OPTIONS$|TAP|_TAPJS_)/;

/** `env` without the test runner's variables, for a command started as a user would. */
export const userEnv = (env: NodeJS.ProcessEnv = process.env): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && !RUNNER.test(e[0])));

/** Like `spawn(command, args, { env })`, but the command sees `env` and nothing else. The PID is the command's. */
export const spawnClean = (command: string, args: string[], env: Record<string, string>, options: Omit<SpawnOptions, 'env'> = {}): ChildProcess =>
  spawn('env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args], options);
