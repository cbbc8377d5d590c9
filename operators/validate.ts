/**
 * Checks each decoded record against a zod schema and passes on the parsed, typed value
 * (unknown fields stripped, so they never reach SQL). A record that does not match is
 * dead-lettered with every problem the schema found.
 *
 * The default schema is the upstream document: `doc_id` a signed 64-bit integer, `title` and
 * `body` strings, an optional `url` of at most 256 characters. Pass your own schema to get
 * your own type.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { validate } from 'docpipe/operators/validate.js';
 * const withScore = documentSchema.extend({ score: z.number().optional() });
 * source.pipe(decodeJson({ deadLetter }), validate({ deadLetter, schema: withScore }));
 * ```
 */
import type { OperatorFunction } from 'rxjs';
import { z } from 'zod';
import type { Envelope } from '../pipeline/envelope.js';
import { RecordError, type DeadLetter } from '../pipeline/records.js';
import { mapRecords } from './mapRecords.js';

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

export type Document = z.infer<typeof documentSchema>;

export interface ValidateOptions<T> {
  deadLetter: DeadLetter;
  schema?: z.ZodType<T>;
}

const describe = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(value)'}: ${i.message}`).join('; ');

/**
 * Checks one payload as {@link validate} does, throwing a {@link RecordError} for one that does
 * not match (shared with the worker thread of `decodeDocumentsInWorker`).
 */
export const checkPayload = <T>(schema: z.ZodType<T>, payload: unknown): T => {
  const result = schema.safeParse(payload);
  if (!result.success) throw new RecordError('validate', 'SchemaError', describe(result.error));
  return result.data;
};

export function validate(options: { deadLetter: DeadLetter }): OperatorFunction<Envelope<unknown>, Envelope<Document>>;
export function validate<T>(options: ValidateOptions<T> & { schema: z.ZodType<T> }): OperatorFunction<Envelope<unknown>, Envelope<T>>;
export function validate<T>(options: ValidateOptions<T>): OperatorFunction<Envelope<unknown>, Envelope<T>> {
  const schema = (options.schema ?? documentSchema) as z.ZodType<T>;
  return mapRecords((payload: unknown) => checkPayload(schema, payload), options);
}
