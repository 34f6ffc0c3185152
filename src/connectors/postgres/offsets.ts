/**
 * The sink's positions, stored in PostgreSQL beside the rows: one row per (connector, topic,
 * partition) holding the next offset to write. A batch moves them in the same transaction as
 * its rows, which is the whole of the exactly-once argument: the rows of a batch are in the
 * table if and only if the positions say so, whatever moment a crash picks.
 */
import type pg from 'pg'
import { StalePositionError } from '../types.ts'
import type { Statement } from './pipeline.ts'
import { sqlState } from './pool.ts'
import type { QualifiedName } from './sql.ts'
import { createIfMissing, expectColumns } from './table-info.ts'

/** Creates the offsets table if it is missing and checks an existing one has our columns. */
export async function ensureOffsetsTable(client: pg.ClientBase, table: QualifiedName): Promise<void> {
  await createIfMissing(
    client,
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
       connector text NOT NULL, topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
       PRIMARY KEY (connector, topic, partition))`,
  )
  await expectColumns(client, table, ['connector', 'topic', 'partition', 'next_offset'], 'offsets')
}

export async function readPositions(
  client: pg.Pool | pg.ClientBase,
  table: QualifiedName,
  connector: string,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, number>> {
  const result = await client.query<{ partition: number; next_offset: string }>(
    `SELECT partition, next_offset FROM ${table.sql}
      WHERE connector = $1 AND topic = $2 AND partition = ANY ($3::int[])`,
    [connector, topic, partitions],
  )
  return new Map(result.rows.map((r) => [r.partition, Number(r.next_offset)]))
}

/**
 * The statement moving each partition's stored position from `from` to `to`, inside the
 * caller's transaction. A partition moves only when it stands at `from` or before: positions
 * only grow, and a stale worker's `from` is one it wrote or read, so it can only be behind;
 * `from` is ahead of the store only when retention removed the records in between and the
 * runner resumed at what is left. The row lock this takes makes a concurrent writer of the same
 * partition wait, then not move.
 *
 * `fence: 'fail'`: when a partition does not move, the statement fails — with a division by
 * zero, the one error plain SQL can raise on a condition — which aborts the transaction and, in
 * a pipeline, skips everything after it, COMMIT included. The caller knows the error is this
 * one by where it came (`isFenceError`). `fence: 'report'`: one row per partition moved.
 */
export function moveStatement(
  table: QualifiedName,
  connector: string,
  topic: string,
  positions: ReadonlyMap<number, { from: number; to: number }>,
  fence: 'fail' | 'report',
): Statement {
  const partitions = [...positions.keys()]
  const list = (values: readonly number[]) => `{${values.join(',')}}`
  const move = `INSERT INTO ${table.sql} AS s (connector, topic, partition, next_offset)
     SELECT $1, $2, partition, to_offset FROM moves
     ON CONFLICT (connector, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset
      WHERE s.next_offset <= (SELECT from_offset FROM moves WHERE moves.partition = s.partition)
     RETURNING s.partition`
  const moves = `moves AS (
       SELECT * FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS m(partition, from_offset, to_offset))`
  return {
    text:
      fence === 'report'
        ? `WITH ${moves} ${move}`
        : `WITH ${moves}, moved AS (${move}) SELECT 1 / (count(*) = cardinality($3::int[]))::int FROM moved`,
    values: [
      connector,
      topic,
      list(partitions),
      list(partitions.map((p) => positions.get(p)!.from)),
      list(partitions.map((p) => positions.get(p)!.to)),
    ],
  }
}

/** Whether the error of a `fence: 'fail'` move statement says a partition did not move. */
export function isFenceError(error: unknown): boolean {
  return sqlState(error) === '22012'
}

/** Moves positions on their own: throws StalePositionError when a partition did not move. */
export async function movePositions(
  client: pg.ClientBase,
  table: QualifiedName,
  connector: string,
  topic: string,
  positions: ReadonlyMap<number, { from: number; to: number }>,
): Promise<void> {
  if (positions.size === 0) return
  const { text, values } = moveStatement(table, connector, topic, positions, 'report')
  const moved = await client.query(text, values as string[])
  if (moved.rowCount === positions.size) return
  throw await staleError(client, table, connector, topic, positions)
}

/**
 * Why a batch cannot move its positions: where each partition past the batch's start stands.
 * Read after the move failed (in its transaction, or after its rollback).
 */
export async function staleError(
  client: pg.ClientBase,
  table: QualifiedName,
  connector: string,
  topic: string,
  positions: ReadonlyMap<number, { from: number; to: number }>,
): Promise<StalePositionError> {
  const stored = await readPositions(client, table, connector, topic, [...positions.keys()])
  const detail = [...positions]
    .filter(([p, { from }]) => (stored.get(p) ?? -1) > from)
    .map(([p, { from }]) => `partition ${p} stands at ${stored.get(p)}, this batch starts at ${from}`)
    .join('; ')
  return new StalePositionError(
    `connector ${connector}, topic ${topic}: another worker has written past this batch (${detail}); ` +
      'it owns the partition now, so this batch is dropped and positions are read again',
  )
}
