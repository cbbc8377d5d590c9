// `docpipe/operators`: every operator of a docpipe chain, with its options and what it emits.
export { batch, type BatchOptions } from './batch.js';
export { bulkInsert, type BatchWritten, type BulkInsertOptions } from './bulkInsert.js';
export { deadLetterIf, type DeadLetterIfOptions } from './deadLetterIf.js';
export { decodeDocumentsInWorker, type DecodeDocumentsInWorkerOptions } from './decodeDocumentsInWorker.js';
export { decodeJson, type DecodeJsonOptions } from './decodeJson.js';
export { encodeDocuments, LARGE_TEXT, type EncodedDocument, type EncodedText } from './encodeDocuments.js';
export { filterRecords } from './filterRecords.js';
export { mapRecords, type MapRecordsOptions } from './mapRecords.js';
export { validate, documentSchema, INT64_MAX, INT64_MIN, type Document, type ValidateOptions } from './validate.js';
export { decodeDeletes, type DecodeDeletesOptions } from './decodeDeletes.js';
