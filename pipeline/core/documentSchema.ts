/**
 * The upstream document and the check `validate` makes, on their own, and `decodeDocument`, a
 * record value decoded and checked: `validate` and both threads of `decodeDocumentsInWorker`
 * use them, so all refuse the same records with the same words. No RxJS here: the worker
 * thread does not load it.
 *
 * @example
 * ```ts
 * import { checkPayload, documentSchema } from 'docpipe';
 * checkPayload(documentSchema, { doc_id: 1n, title: 't', body: 'b' }); // the typed document
 * ```
 */
import { z } from 'zod';
import { decodeValue, DEFAULT_EXACT_INTEGERS } from './decodeValue.js';
import { RecordError } from './rejections.js';
import { parseVersion } from './documentVersion.js';

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** Counts characters as MySQL's VARCHAR does (code points), not UTF-16 units. */
const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export const documentSchema = z.object({
  doc_id: z.bigint().min(INT64_MIN).max(INT64_MAX),
  title: z.string(),
  body: z.string(),
  url: z
    .string()
    .refine((s) => codePoints(s) <= 256, { message: 'must be at most 256 characters' })
    .nullish(),
});

/** The upstream document; `version` is there when the pipeline reads one from a `versionField`. */
export type Document = z.infer<typeof documentSchema> & { readonly version?: bigint };

/**
 * The schema's output with the document's own version added from the raw `field`: read from
 * the decoded value, since the schema strips fields it does not name.
 */
export const withVersion = <T extends object>(checked: T, raw: unknown, field: string): T & { readonly version: bigint } => ({
  ...checked,
  version: parseVersion((raw as Record<string, unknown>)[field], field),
});

const describe = (error: z.ZodError): string => error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(value)'}: ${i.message}`).join('; ');

/** Checks one payload against `schema`, throwing a {@link RecordError} with every problem found. */
export const checkPayload = <T>(schema: z.ZodType<T>, payload: unknown): T => {
  const result = schema.safeParse(payload);
  if (!result.success) throw new RecordError('validate', 'SchemaError', describe(result.error));
  return result.data;
};

/**
 * A record value as `decodeJson` and then `validate` with the default schema make it, throwing
 * their {@link RecordError} for a value either refuses.
 */
export const decodeDocument = (value: Buffer | null, versionField?: string): Document => {
  if (versionField === undefined) return checkPayload(documentSchema, decodeValue(value, DEFAULT_EXACT_INTEGERS));
  const raw = decodeValue(value, [...DEFAULT_EXACT_INTEGERS, versionField]);
  return withVersion(checkPayload(documentSchema, raw), raw, versionField);
};
