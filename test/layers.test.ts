import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { layerOf, layerViolations } from './helpers/importLayers.js';

const root = resolve(import.meta.dirname, '..');

t.test('every import runs down the layers', async (t) => {
  const violations = layerViolations(root);
  t.same(violations, [], violations.map((v) => `${v.file} (${v.from}) imports ${v.imports} (${v.to ?? 'outside the layers'})`).join('\n') || 'none');
});

t.test('the check fails on an upward import', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'docpipe-layers-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const dir of ['pipeline', 'operators', 'sinks']) cpSync(resolve(root, dir), join(copy, dir), { recursive: true });
  t.same(layerViolations(copy), [], 'the copy starts clean');

  // The ground reaching up to the CLI's logger, and an operator reaching sideways into a sink.
  const retry = join(copy, 'pipeline/core/retry.ts');
  writeFileSync(retry, `import { createLogger } from '../cli/logger.js';\n${readFileSync(retry, 'utf8')}`);
  const batch = join(copy, 'operators/batch.ts');
  writeFileSync(batch, `import type { MysqlSink } from '../sinks/mysqlSink.js';\n${readFileSync(batch, 'utf8')}`);

  t.same(
    layerViolations(copy).map((v) => [v.file, v.imports, v.from, v.to]),
    [
      ['pipeline/core/retry.ts', '../cli/logger.js', 'core', 'cli'],
      ['operators/batch.ts', '../sinks/mysqlSink.js', 'operators', 'sinks'],
    ],
  );
});

t.test('files are placed in their layers', async (t) => {
  t.equal(layerOf('pipeline/core/envelope.ts'), 'core');
  t.equal(layerOf('pipeline/createPipeline.ts'), 'roof');
  t.equal(layerOf('pipeline/cli/commands/run.ts'), 'cli');
  t.equal(layerOf('sinks/mysqlSink.ts'), 'sinks');
  t.equal(layerOf('bench/run.ts'), undefined);
});
