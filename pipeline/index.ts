// `docpipe`: the default pipeline, and the pieces a chain composed by hand is built from — the
// Kafka source and its budget, the envelope every operator passes on, rejections and the
// dead-letter writer, the upstream document. Operators are in `docpipe/operators`, sinks in
// `docpipe/sinks`.
export { createPipeline, DEFAULT_BUDGET, type Pipeline, type PipelineConfig, type PipelineStats } from './createPipeline.js';
export { openDeadLetterWriter, type OpenDeadLetterWriterOptions } from './openDeadLetterWriter.js';
export { KafkaConnectError, KafkaSource, type KafkaSourceOptions, type RdKafkaSettings } from './kafka/kafkaSource.js';
export { DocumentProducer, SendBatchError, type Delivered, type DocumentProducerOptions, type OutgoingMessage } from './kafka/documentProducer.js';
export { InFlightBudget, type BudgetLimits } from './core/inFlightBudget.js';
export { OffsetTracker, type CommitPosition, type TopicPartition, type TrackerListener } from './core/offsetTracker.js';
export { coordinates, withPayload, type Batch, type Envelope, type KafkaHeader } from './core/envelope.js';
export { RecordError, type DeadLetter, type Rejection } from './core/rejections.js';
export { checkPayload, documentSchema, INT64_MAX, INT64_MIN, type Document } from './core/documentSchema.js';
export type { EncodedDocument, EncodedText } from './core/encodedDocument.js';
export { isDeletion, parseVersion, type Deletion } from './core/documentVersion.js';
export { silentLogger } from './core/silentLogger.js';
export { CsvFileError, DEFAULT_MAPPING, readCsvDocuments, type ColumnMapping, type CsvDocument, type CsvRow } from './documents/csvDocuments.js';
// The types of a pipeline's configuration that live beside their parts.
export type { BatchOptions, BatchWritten } from '../operators/index.js';
export type { Database, DbConnection, SqliteConnection } from '../sinks/index.js';
