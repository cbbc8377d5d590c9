// Runs the docpipe command as a user would, through the TypeScript loader tap uses.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
export const tsLoader = resolve(root, 'node_modules/@tapjs/typescript/dist/esm/import.mjs');
export const cliEntry = resolve(root, 'pipeline/cli/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export const docpipe = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> => {
  const started = Date.now();
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', tsLoader, cliEntry, ...args],
      { cwd: root, env: { ...process.env, DOCPIPE_LOG_LEVEL: 'warn', DOCPIPE_METRICS_PORT: '0', ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        done({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
};
