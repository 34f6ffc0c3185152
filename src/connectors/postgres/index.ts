/**
 * PostgreSQL connectors (`sluice/postgres`): `postgres()`, an exactly-once sink into a table,
 * and `postgresPoll()`, a source polling a table by an increasing column. A subpath of its own
 * so that `sluice` does not load node-postgres for programs that do not use it.
 * @module
 */
export { type PostgresPollOptions, postgresPoll } from './poll-source.ts'
export type { PostgresConnection } from './pool.ts'
export type { ColumnMapping, FieldName } from './rows.ts'
export { type PostgresSinkOptions, postgres } from './sink.ts'
export type { TableName } from './sql.ts'
