/**
 * A document whose text is UTF-8 bytes, the form `encodeDocuments` leaves and the MySQL sink
 * sends as it is: the operator and the sink share this shape, so it stands on the ground floor.
 *
 * @example
 * ```ts
 * import type { EncodedDocument } from 'docpipe/operators';
 * const doc: EncodedDocument = { doc_id: 1n, title: Buffer.from('t'), body: 'b', url: null };
 * ```
 */
/**
 * Text as UTF-8 bytes — or, above {@link LARGE_TEXT} characters, still the string: V8 keeps
 * strings that large apart from the young generation and never copies them, so encoding one
 * would gain nothing and hold a second copy of it while the first is collected.
 */
export type EncodedText = Buffer | string;

/** A document whose text is UTF-8 bytes: the form `SqlSink` writes to MySQL without converting. */
export interface EncodedDocument {
  readonly doc_id: bigint;
  readonly title: EncodedText;
  readonly body: EncodedText;
  readonly url: EncodedText | null;
  readonly version?: bigint;
}

/** Characters above which text stays a string (64 Ki: 128 KiB as UTF-16, V8's large-object size). */
export const LARGE_TEXT = 64 * 1024;
