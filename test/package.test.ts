// docpipe as engineers install it: what `npm pack` ships, and the example of a chain composed by
// hand (examples/custom-chain) installed from the packed tarball, type-checked against the
// published declarations and run against the real broker and database.
import t from 'tap';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { DLQ_HEADERS } from '../sinks/deadLetterWriter.js';
import { createTopic, freshDatabase, produce, uniqueName, type OutMessage } from './helpers/stack.js';
import { committedOffsets, headerValue, highWatermarks, readAll } from './helpers/kafka.js';

const root = resolve(import.meta.dirname, '..');
const tsc = resolve(root, 'node_modules/typescript/bin/tsc');

// Building, packing, installing and one run of the example: about a minute here, more on a busy
// machine.
t.setTimeout(420_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without what an npm script sets for its own project (its prefix, its package). */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  ...extra,
});

const run = (command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> =>
  new Promise((done) => {
    execFile(command, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      done({ code, stdout, stderr });
    });
  });

const npm = (args: readonly string[], cwd: string, timeoutMs = 180_000): Promise<Run> => run('npm', args, cwd, cleanEnv(), timeoutMs);

const work = mkdtempSync(join(tmpdir(), 'docpipe-package-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/**
 * The package is built and packed in a copy of the working tree, so that its prepack (which
 * empties and rebuilds dist/pipeline, dist/operators and dist/sinks) leaves the repository's
 * own dist/ to whoever uses it. The copy shares the repository's node_modules for the compiler.
 */
const packageCopy = join(work, 'docpipe');
const skipped = new Set(['.git', 'dist', '.stack', '.tap', 'coverage']);
cpSync(root, packageCopy, {
  recursive: true,
  filter: (src) => {
    const parts = relative(root, src).split('/');
    return !skipped.has(parts[0]!) && !parts.includes('node_modules');
  },
});
// What a benchmark build leaves in dist/: it must not be shipped.
for (const file of ['dist/bench/run.js', 'dist/test/helpers/stack.js', 'dist/test/helpers/stack.d.ts']) {
  mkdirSync(join(packageCopy, file, '..'), { recursive: true });
  writeFileSync(join(packageCopy, file), '// built by build:bench\n');
}
symlinkSync(resolve(root, 'node_modules'), join(packageCopy, 'node_modules'));

/** `import … from 'docpipe…';` lines of the doc comments of docpipe's sources. */
const docExampleImports = (): string[] => {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/^\s*\*\s*(import\b[^;]*\bfrom\s*'docpipe(?:\/[^']*)?';)/gm)) out.add(m[1]!);
      }
    }
  };
  for (const dir of ['pipeline', 'operators', 'sinks']) walk(resolve(root, dir));
  return [...out].sort();
};

/** The same import with every name given an alias of its own, so that many can share one file. */
const aliased = (line: string, i: number): string => {
  const m = /^import\s+(type\s+)?\{([^}]*)\}\s*from\s*('[^']+');$/.exec(line);
  if (!m) return line;
  const names = m[2]!
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
    .map((n, j) => `${n.replace(/\s+as\s+\w+$/, '')} as _${i}_${j}`);
  return `import ${m[1] ?? ''}{ ${names.join(', ')} } from ${m[3]};`;
};

interface PackedFile {
  path: string;
  mode: number;
}
const packedFiles = (stdout: string): PackedFile[] => (JSON.parse(stdout) as { files: PackedFile[] }[])[0]!.files;

let tarball: string | undefined;

t.test('npm pack ships the built entry points and nothing of the benchmarks or tests', async (t) => {
  const dry = await npm(['pack', '--dry-run', '--json'], packageCopy);
  t.equal(dry.code, 0, 'npm pack --dry-run builds and lists the package', { stderr: dry.stderr });
  const files = packedFiles(dry.stdout);
  const paths = files.map((f) => f.path);
  for (const entry of [
    'dist/pipeline/index.js',
    'dist/pipeline/index.d.ts',
    'dist/operators/index.js',
    'dist/operators/index.d.ts',
    'dist/sinks/index.js',
    'dist/sinks/index.d.ts',
    'dist/pipeline/cli/main.js',
    'bin/docpipe',
    'dist/operators/decodeDocumentsInWorker.worker.js',
    'package.json',
    'README.md',
  ]) {
    t.ok(paths.includes(entry), `ships ${entry}`);
  }
  t.same(
    paths.filter(
      (p) =>
        !/^dist\/(pipeline|operators|sinks)\/.+\.(js|d\.ts)$/.test(p) && !['package.json', 'README.md', 'bin/docpipe'].includes(p) && !/^LICEN[CS]E/i.test(p),
    ),
    [],
    'nothing but the built modules, their declarations, the launcher, package.json and the README',
  );
  t.same(
    paths.filter((p) => /(^|\/)(bench|test|helpers|examples)\//.test(p)),
    [],
    'no benchmark, test or example files',
  );
  t.ok(((files.find((f) => f.path === 'bin/docpipe')?.mode ?? 0) & 0o111) !== 0, 'the command is executable');

  const packed = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], packageCopy);
  t.equal(packed.code, 0, 'npm pack writes the tarball', { stderr: packed.stderr });
  t.same(
    packedFiles(packed.stdout).map((f) => f.path),
    paths,
    'the tarball holds what the dry run listed',
  );
  tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  t.ok(existsSync(tarball), basename(tarball));
});

t.test('the custom-chain example installs from the tarball, type-checks and runs against the stack', async (t) => {
  if (!tarball) {
    t.fail('no tarball was packed');
    return;
  }
  const example = join(work, 'custom-chain');
  cpSync(resolve(root, 'examples/custom-chain'), example, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|dist)(\/|$)|\.tgz$|package-lock\.json$/.test(relative(resolve(root, 'examples'), src)),
  });
  cpSync(tarball, join(example, 'docpipe.tgz'));

  // A full install would build the native Kafka client from source (minutes here): install
  // without scripts, then reuse the native build output of the repository's own node_modules,
  // built from the same version on this machine.
  const install = await npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], example);
  t.equal(install.code, 0, 'npm install takes the tarball', { stderr: install.stderr });
  const kafkaClient = '@confluentinc/kafka-javascript';
  cpSync(resolve(root, 'node_modules', kafkaClient, 'build'), join(example, 'node_modules', kafkaClient, 'build'), { recursive: true });
  t.notOk(existsSync(join(example, 'node_modules/better-sqlite3')), 'the SQLite driver is an optional peer: not installed unless asked for');
  t.notOk(existsSync(join(example, 'node_modules/docpipe/bench')), 'no bench in the installed package');
  t.notOk(existsSync(join(example, 'node_modules/docpipe/dist/test')), 'no test helpers in the installed package');

  // The example imports only docpipe's entry points; the compiler resolves them through the
  // package's exports map and checks it against the shipped declarations.
  const compiled = await run(process.execPath, [tsc, '-p', example], example, cleanEnv(), 120_000);
  t.equal(compiled.code, 0, 'the example type-checks and compiles', { tsc: compiled.stdout + compiled.stderr });

  // Every import the doc comments' examples show must name what the package exports.
  const shown = docExampleImports();
  t.ok(shown.length >= 20, `${shown.length} imports found in doc-comment examples`);
  writeFileSync(join(example, 'doc-examples.ts'), shown.map((line, i) => `${aliased(line, i)} // ${line}`).join('\n') + '\n');
  const docsConfig = join(example, 'tsconfig.doc-examples.json');
  writeFileSync(docsConfig, JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['doc-examples.ts'] }));
  const docs = await run(process.execPath, [tsc, '-p', docsConfig], example, cleanEnv(), 120_000);
  t.equal(docs.code, 0, 'the doc-comment examples import only what docpipe, docpipe/operators and docpipe/sinks export', { tsc: docs.stdout + docs.stderr });

  const help = await run(join(example, 'node_modules/.bin/docpipe'), ['--help'], example, cleanEnv(), 30_000);
  t.equal(help.code, 0, "the docpipe command runs through npm's bin link", { stderr: help.stderr });
  t.match(help.stdout, /Usage: docpipe/, 'and prints its usage');

  const topic = await createTopic(t, 'custom_chain', 3);
  const { name: database, knex } = await freshDatabase(t);
  const groupId = uniqueName('custom_chain');

  const messages: OutMessage[] = [];
  const doc = (id: number | string, fields: Record<string, unknown>): OutMessage => ({
    key: String(id),
    value: JSON.stringify({ doc_id: id, body: `body ${id}`, ...fields }),
  });
  const expectedRows: { doc_id: string; title: string; body: string; url: string }[] = [];
  for (let i = 1; i <= 40; i++) {
    const tags = i % 4 === 0 ? ['kafka', 'mysql'] : [];
    const url = i % 2 === 0 ? `https://news.example/${i}` : undefined;
    messages.push(doc(i, { title: `  Article\t ${i}  `, tags, ...(url && { url }) }));
    expectedRows.push({
      doc_id: String(i),
      title: `Article ${i}`,
      body: tags.length ? `body ${i}\n\ntags: kafka, mysql` : `body ${i}`,
      url: url ?? `https://articles.example/${i}`,
    });
  }
  // A doc_id beyond 2^53, exact from Kafka to the table.
  messages.push({ key: '9223372036854775807', value: '{"doc_id": 9223372036854775807, "title": "Largest", "body": "b", "status": "published"}' });
  expectedRows.push({ doc_id: '9223372036854775807', title: 'Largest', body: 'b', url: 'https://articles.example/9223372036854775807' });
  // Drafts: filtered out, never written, but done.
  for (let i = 101; i <= 108; i++) messages.push(doc(i, { title: `Draft ${i}`, status: 'draft' }));
  // Refused by the example's own schema: a blank title, an unknown status, tags that are not strings.
  messages.push(doc(201, { title: '   ' }), doc(202, { title: '' }), doc(203, { title: 'x', status: 'archived' }), doc(204, { title: 'x', tags: [1, 2] }));
  // Refused by the upstream document it extends, and by decodeJson.
  messages.push(doc('205', { title: 'doc_id as a string' }));
  messages.push({ key: '206', value: '{"doc_id": 206, "title": ' }, { key: '207', value: 'not json' });
  await produce(topic, messages);

  const child = await run(
    process.execPath,
    [join(example, 'dist/index.js')],
    example,
    cleanEnv({
      DOCPIPE_TOPICS: topic,
      DOCPIPE_GROUP_ID: groupId,
      DOCPIPE_DB_NAME: database,
      DOCPIPE_TABLE: 'articles',
      DOCPIPE_EXPECT_RECORDS: String(messages.length),
    }),
    120_000,
  );
  t.equal(child.code, 0, 'the example exits 0', { stdout: child.stdout, stderr: child.stderr });
  const summary = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? 'null') as Record<string, unknown> | null;
  t.match(
    summary,
    {
      expected: messages.length,
      written: 41,
      rows: 41,
      filtered: 8,
      deadLettered: 7,
      rejections: { 'validate/SchemaError': 5, 'decode/SyntaxError': 2 },
      drained: true,
    },
    'its summary counts every record: written, filtered or dead-lettered',
  );

  const rows = await knex('articles').select<{ doc_id: string; title: string; body: string; url: string }[]>('doc_id', 'title', 'body', 'url');
  const byId = (a: { doc_id: string }, b: { doc_id: string }) => (BigInt(a.doc_id) < BigInt(b.doc_id) ? -1 : 1);
  t.same(rows.sort(byId), expectedRows.sort(byId), 'the published documents, as the example maps them; no draft, no refused record');

  const deadLetters = await readAll(`${topic}.dlq`, 7);
  t.same(deadLetters.map((m) => String(m.key)).sort(), ['201', '202', '203', '204', '205', '206', '207'], 'every refused record is on the dead-letter topic');
  t.same(
    deadLetters.map((m) => `${headerValue(m, DLQ_HEADERS.stage)}/${headerValue(m, DLQ_HEADERS.errorClass)}`).sort(),
    [...Array<string>(2).fill('decode/SyntaxError'), ...Array<string>(5).fill('validate/SchemaError')],
    'refused by decodeJson or by the schema',
  );
  t.same(await committedOffsets(groupId, topic, 3), await highWatermarks(topic, 3), 'every offset committed');
});
