// The layers of docpipe's sources and the imports each may make, checked over the import
// graph. Written by hand: the rule is a table of folders, and the import specifiers are
// plain relative paths, so no resolver is needed.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Each layer and the layers it may import, besides its own. Lowest first. */
export const LAYERS = {
  core: [],
  documents: ['core'],
  kafka: ['core'],
  operators: ['core'],
  sinks: ['core'],
  roof: ['core', 'documents', 'kafka', 'operators', 'sinks'],
  cli: ['core', 'documents', 'kafka', 'operators', 'sinks', 'roof'],
} as const satisfies Record<string, readonly string[]>;

export type Layer = keyof typeof LAYERS;

/** The layer a source file belongs to, by its path from the repository root. */
export const layerOf = (path: string): Layer | undefined => {
  const p = path.split(sep).join('/');
  if (p.startsWith('pipeline/core/')) return 'core';
  if (p.startsWith('pipeline/documents/')) return 'documents';
  if (p.startsWith('pipeline/kafka/')) return 'kafka';
  if (p.startsWith('pipeline/cli/')) return 'cli';
  if (p.startsWith('pipeline/')) return 'roof';
  if (p.startsWith('operators/')) return 'operators';
  if (p.startsWith('sinks/')) return 'sinks';
  return undefined;
};

export interface Violation {
  file: string;
  imports: string;
  from: Layer;
  to: Layer | undefined;
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.(?:ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });

/** Every relative import under `root`'s pipeline/, operators/ and sinks/ that its layer may not make. */
export const layerViolations = (root: string): Violation[] => {
  const out: Violation[] = [];
  for (const top of ['pipeline', 'operators', 'sinks']) {
    for (const file of sources(resolve(root, top))) {
      const rel = relative(root, file);
      const from = layerOf(rel);
      if (!from) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        const spec = m[1]!;
        const target = relative(root, resolve(dirname(file), spec));
        const to = layerOf(target);
        if (to === from || (to !== undefined && (LAYERS[from] as readonly Layer[]).includes(to))) continue;
        out.push({ file: rel.split(sep).join('/'), imports: spec, from, to });
      }
    }
  }
  return out;
};
