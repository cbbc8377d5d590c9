// A Dockerfile read the way the builder reads it, for tests that check the image without a
// Docker engine: stages, their instructions, and the few argument forms docpipe's file uses.

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  op: string;
  /** The rest of the instruction, continuation lines joined. */
  args: string;
  /** 1-based line of the keyword, for messages. */
  line: number;
}

export interface Stage {
  /** Its `AS` name, if any. */
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

/** Splits the file into instructions: comment lines dropped, `\` continuations joined. */
export const instructions = (text: string): Instruction[] => {
  const out: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    // The builder drops comment lines, also between continuation lines.
    if (/^\s*#/.test(line)) return;
    if (!pending) {
      if (line.trim() === '') return;
      pending = { parts: [], line: i + 1 };
    }
    const continued = line.endsWith('\\');
    pending.parts.push(continued ? line.slice(0, -1) : line);
    if (!continued) {
      const joined = pending.parts.join(' ').trim();
      const m = /^(\S+)\s*([\s\S]*)$/.exec(joined)!;
      out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: pending.line });
      pending = undefined;
    }
  });
  if (pending) throw new Error(`line ${pending.line}: the file ends inside a continued instruction`);
  return out;
};

/** The build stages, in order. */
export const stages = (text: string): Stage[] => {
  const out: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      out.push({ image: m[1]!, name: m[2], instructions: [] });
    } else {
      const stage = out.at(-1);
      if (!stage) throw new Error(`line ${ins.line}: ${ins.op} before the first FROM`);
      stage.instructions.push(ins);
    }
  }
  return out;
};

/** Words split on blanks, with "…" and '…' quoting as the builder's ENV and COPY allow. */
const words = (s: string): string[] => {
  const out: string[] = [];
  const re = /(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g;
  for (const m of s.matchAll(re)) {
    out.push(
      m[0].replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_all, dq: string | undefined, sq: string | undefined) =>
        dq !== undefined ? dq.replace(/\\(.)/g, '$1') : (sq ?? ''),
      ),
    );
  }
  return out;
};

/** `ENV A=1 B="x y"` or the older `ENV A 1`. */
export const envPairs = (args: string): Record<string, string> => {
  if (!/^[^\s=]+=/.test(args)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(args);
    if (!m) throw new Error(`cannot read ENV ${args}`);
    return { [m[1]!]: m[2]! };
  }
  return Object.fromEntries(
    words(args).map((w) => {
      const at = w.indexOf('=');
      return [w.slice(0, at), w.slice(at + 1)];
    }),
  );
};

/** A command in exec form (`["a", "b"]`) or shell form (run by `/bin/sh -c`). */
export const command = (args: string): string[] => (args.startsWith('[') ? (JSON.parse(args) as string[]) : ['/bin/sh', '-c', args]);

export interface Copy {
  /** The stage the files come from; undefined: the build context. */
  from: string | undefined;
  sources: string[];
  destination: string;
}

/** `COPY [--from=stage] [--chown=…] src… dest`, in either form. */
export const copyArgs = (args: string): Copy => {
  const parts = words(args);
  let from: string | undefined;
  while (parts[0]?.startsWith('--')) {
    const flag = parts.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (!/^--(chown|chmod|link)(=|$)/.test(flag)) throw new Error(`COPY flag ${flag} is not understood`);
  }
  const paths = parts[0]?.startsWith('[') ? (JSON.parse(parts.join(' ')) as string[]) : parts;
  if (paths.length < 2) throw new Error(`COPY ${args}: needs a source and a destination`);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
};

export interface Healthcheck {
  options: Record<string, string>;
  /** The command, or undefined for `HEALTHCHECK NONE`. */
  test: string[] | undefined;
}

/** `HEALTHCHECK [--interval=…] CMD …` or `HEALTHCHECK NONE`. */
export const healthcheckArgs = (args: string): Healthcheck => {
  const options: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    options[m[1]!] = m[2]!;
    rest = rest.slice(m[0].length);
  }
  if (/^NONE$/i.test(rest)) return { options, test: undefined };
  const m = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!m) throw new Error(`cannot read HEALTHCHECK ${args}`);
  return { options, test: command(m[1]!) };
};

/** The last instruction `op` of a stage, if any: later ones override earlier ones. */
export const last = (stage: Stage, op: string): Instruction | undefined => stage.instructions.filter((i) => i.op === op).at(-1);
