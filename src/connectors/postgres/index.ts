/**
 * PostgreSQL connectors, exported from `sluice`: `postgres()`, an exactly-once sink into a
 * table, and `postgresPoll()`, a source polling a table by an increasing column. node-postgres
 * is loaded only when one of them connects.
 * @module
 */
export { type PostgresPollOptions, postgresPoll } from './poll-source.ts'
export type { PostgresConnection } from './pool.ts'
export type { ColumnMapping, FieldName } from './rows.ts'
export { type PostgresSinkOptions, postgres } from './sink.ts'
export type { TableName } from './sql.ts'
