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
 * import { decodeJson, documentSchema, validate } from 'docpipe/operators';
 * const withScore = documentSchema.extend({ score: z.number().optional() });
 * source.pipe(decodeJson({ deadLetter }), validate({ deadLetter, schema: withScore }));
 * ```
 */
import type { OperatorFunction } from 'rxjs';
import type { z } from 'zod';
import { checkPayload, documentSchema, type Document } from '../pipeline/core/documentSchema.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { DeadLetter } from '../pipeline/core/rejections.js';
import { mapRecords } from './mapRecords.js';

export { documentSchema, INT64_MAX, INT64_MIN, type Document } from '../pipeline/core/documentSchema.js';

export interface ValidateOptions<T> {
  deadLetter: DeadLetter;
  schema?: z.ZodType<T>;
}

export function validate(options: { deadLetter: DeadLetter }): OperatorFunction<Envelope<unknown>, Envelope<Document>>;
export function validate<T>(options: ValidateOptions<T> & { schema: z.ZodType<T> }): OperatorFunction<Envelope<unknown>, Envelope<T>>;
export function validate<T>(options: ValidateOptions<T>): OperatorFunction<Envelope<unknown>, Envelope<T>> {
  const schema = (options.schema ?? documentSchema) as z.ZodType<T>;
  return mapRecords((payload: unknown) => checkPayload(schema, payload), options);
}
