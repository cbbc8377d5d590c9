// `docpipe/sinks`: where a chain writes — the MySQL/MariaDB and SQLite sinks, their pools and
// table, the dead-letter writer — and the contract a sink of your own keeps.
export { FatalSinkError, type RecordSink, type SinkRejection, type SinkResult } from '../pipeline/core/recordSink.js';
export { MysqlSink, type MysqlSinkOptions, type SinkDocument } from './mysqlSink.js';
export { SqliteSink, type SqliteSinkDocument, type SqliteSinkOptions } from './sqliteSink.js';
export { createKnex } from './createKnex.js';
export { createSqliteKnex } from './sqliteDatabase.js';
export { isSqlite, openDatabase, type Database, type DbConnection, type SqliteConnection } from './database.js';
export { migrateInputData } from './inputDataTable.js';
export { classifyMysqlError, describeDbError, type ErrorKind } from './mysqlErrors.js';
export { DeadLetterWriter, DLQ_HEADERS, type DeadLetterMessage, type DeadLetterTransport, type DeadLetterWriterOptions } from './deadLetterWriter.js';
export { isNewer, newerSql, VERSION_COLUMNS, type RowVersion, type VersionRule } from './versionRule.js';
export { recordVersion, versionOrigin, VERSION_HEADERS } from './recordVersion.js';
