/**
 * Checks each decoded record against a zod schema and passes on the parsed, typed value
 * (unknown fields stripped, so they never reach SQL). A record that does not match is
 * dead-lettered with every problem the schema found.
 *
 * The default schema is the upstream document: `doc_id` a signed 64-bit integer, `title` and
 * `body` strings, an optional `url` of at most 256 characters. Pass your own schema to get
 * your own type. With `versionField`, the document's own version is read from that field (an
 * integer or an RFC 3339 timestamp) and passed on as `version`; a document without one is
 * dead-lettered. Decode such a field exactly: `decodeJson({ exactIntegers: ['doc_id', field] })`.
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
import { checkPayload, documentSchema, withVersion, type Document } from '../pipeline/core/documentSchema.js';
import type { Envelope } from '../pipeline/core/envelope.js';
import type { DeadLetter } from '../pipeline/core/rejections.js';
import { mapRecords } from './mapRecords.js';

export { documentSchema, INT64_MAX, INT64_MIN, type Document } from '../pipeline/core/documentSchema.js';

export interface ValidateOptions<T> {
  deadLetter: DeadLetter;
  schema?: z.ZodType<T>;
  /** The field that holds each document's own version, when the documents carry one. */
  versionField?: string | undefined;
}

export function validate(options: { deadLetter: DeadLetter; versionField?: string | undefined }): OperatorFunction<Envelope<unknown>, Envelope<Document>>;
export function validate<T>(options: ValidateOptions<T> & { schema: z.ZodType<T> }): OperatorFunction<Envelope<unknown>, Envelope<T>>;
export function validate<T>(options: ValidateOptions<T>): OperatorFunction<Envelope<unknown>, Envelope<T>> {
  const schema = (options.schema ?? documentSchema) as z.ZodType<T>;
  const field = options.versionField;
  if (field === undefined) return mapRecords((payload: unknown) => checkPayload(schema, payload), options);
  return mapRecords((payload: unknown) => withVersion(checkPayload(schema, payload) as T & object, payload, field) as T, options);
}
