/**
 * Records the table refused, kept in a PostgreSQL table of their own and written in the same
 * transaction as the batch's rows and positions: a dead letter, like a row, is there exactly
 * once. One row per refused record, keyed by where it came from.
 */
import type pg from 'pg'
import type { RejectedRecord } from './rows.ts'
import type { QualifiedName } from './sql.ts'
import { createIfMissing, expectColumns } from './table-info.ts'

export const DEAD_LETTER_COLUMNS = [
  'connector',
  'topic',
  'partition',
  'offset',
  'key',
  'value',
  'error',
  'sqlstate',
  'failed_at',
] as const

export async function ensureDeadLetterTable(client: pg.ClientBase, table: QualifiedName): Promise<void> {
  await createIfMissing(
    client,
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
       connector text NOT NULL, topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL,
       key text, value text, error text NOT NULL, sqlstate text,
       failed_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (connector, topic, partition, "offset"))`,
  )
  await expectColumns(client, table, DEAD_LETTER_COLUMNS, 'dead-letter')
}

export async function writeDeadLetters(
  client: pg.ClientBase,
  table: QualifiedName,
  connector: string,
  topic: string,
  rejected: readonly RejectedRecord<unknown>[],
): Promise<void> {
  if (rejected.length === 0) return
  // Text columns cannot hold NUL; JSON escapes it in values, an error message might not.
  const text = (s: string) => s.replaceAll('\0', '\\0')
  await client.query(
    `INSERT INTO ${table.sql} (connector, topic, partition, "offset", key, value, error, sqlstate)
     SELECT $1, $2, * FROM unnest($3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT DO NOTHING`,
    [
      connector,
      topic,
      rejected.map((r) => r.record.partition),
      rejected.map((r) => r.record.offset),
      rejected.map((r) => (r.record.key === null ? null : text(r.record.key))),
      rejected.map((r) => text(valueText(r.record.value))),
      rejected.map((r) => text(r.error)),
      rejected.map((r) => r.sqlState ?? null),
    ],
  )
}

function valueText(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value)
  } catch {
    return String(value)
  }
}
