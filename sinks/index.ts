// `docpipe/sinks`: where a chain writes — the SQL sink with its mappings, dialects, pools and
// tables, the dead-letter writer — and the contract a sink of your own keeps.
export { FatalSinkError, type RecordSink, type SinkRejection, type SinkResult } from '../pipeline/core/recordSink.js';
export { SqlSink, type SqlSinkOptions, type SqlSinkRecord } from './sqlSink.js';
export {
  compileMapping,
  COLUMN_TYPES,
  KEY_TYPES,
  MappingError,
  RESERVED_COLUMNS,
  type BoundValue,
  type ColumnDef,
  type ColumnType,
  type CompiledColumn,
  type CompiledMapping,
  type Stamp,
  type TableMapping,
} from './tableMapping.js';
export { INPUT_DATA, type InputDataDocument } from './inputDataMapping.js';
export { tableFor, topicTableName, checkTableName, type TableRoute, type ResolvedRoute } from './tableRoute.js';
export { createTable, ensureTable, inspectTable, tableProblem, BOOKKEEPING_COLUMNS, type TableReport } from './tableSchema.js';
export { dialectFor } from './dialectFor.js';
export { MysqlDialect, supportsRowAlias, refusedCount } from './mysqlDialect.js';
export { PostgresDialect } from './postgresDialect.js';
export { SqliteDialect } from './sqliteDialect.js';
export { keyTextOf, type SqlDialect, type DialectName, type TablePlan, type PlannedRow } from './sqlDialect.js';
export { createKnex } from './createKnex.js';
export { createPostgresKnex, type PostgresConnection } from './createPostgresKnex.js';
export { createSqliteKnex } from './sqliteDatabase.js';
export { isSqlite, isPostgres, openDatabase, type Database, type DbConnection, type SqliteConnection } from './database.js';
export { migrateInputData } from './inputDataTable.js';
export { classifyMysqlError, describeDbError, type ErrorKind } from './mysqlErrors.js';
export { classifyPostgresError, describePostgresError } from './postgresErrors.js';
export { DeadLetterWriter, DLQ_HEADERS, type DeadLetterMessage, type DeadLetterTransport, type DeadLetterWriterOptions } from './deadLetterWriter.js';
export { isNewer, newerSql, VERSION_COLUMNS, type RowVersion, type VersionRule } from './versionRule.js';
export { recordVersion, versionOrigin, VERSION_HEADERS } from './recordVersion.js';
