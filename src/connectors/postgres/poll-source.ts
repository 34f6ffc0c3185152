/**
 * `postgresPoll()`: a source that reads new rows of a table (or query) by an increasing column,
 *
 *   SELECT … FROM t WHERE id > $last ORDER BY id LIMIT $batchSize
 *
 * every `interval`, and appends them to a topic with the last `id` as the checkpoint of the
 * same log transaction, so a restart resumes after exactly the rows that landed.
 *
 * This is polling, not change data capture: it sees rows as they are when read, never updates
 * or deletes of rows it has passed, and it can miss a row whose id was taken before, but
 * committed after, a row with a higher id that it has already read (ids from a sequence are
 * handed out at insert, not at commit). `lag` narrows that window; logical replication closes
 * it, and is not implemented yet.
 */
import type pg from 'pg'
import { SluiceError } from '../../errors.ts'
import { type Duration, parseDuration } from '../../util/duration.ts'
import { sleep } from '../status.ts'
import type { Source, SourceContext, SourceRecord } from '../types.ts'
import { checkConnection, createPool, describeTarget, type PostgresConnection } from './pool.ts'
import { qualifiedName, quoteIdent, type TableName } from './sql.ts'

export interface PostgresPollOptions<T> extends PostgresConnection {
  /** The table to read. Give this or `query`. */
  table?: TableName
  /**
   * A SELECT to read instead of a table, e.g. one joining a second table; it is used as a
   * subquery (`SELECT * FROM (query) q WHERE q.id > $1 …`), so it must not end in `;`.
   */
  query?: string
  /**
   * The increasing column to read by (default `id`): unique and only ever growing, such as a
   * `bigserial` or `identity` key. Rows are read in its order; its last value is the checkpoint.
   */
  column?: string
  /** How long to wait after a read that found no more rows (default 1 s). */
  interval?: Duration
  /** Most rows per read, that is per append (default 1,000). */
  batchSize?: number
  /** With no checkpoint yet, start after this value of `column` (default: the first row). */
  after?: string | number
  /**
   * Read a row only once `lag` has passed since its `timeColumn` (a timestamp filled with
   * `clock_timestamp()` at insert), and stop each read at the first row that is too young, so
   * the position never passes it. With `lag` longer than the longest transaction that inserts
   * into the table, a row whose id was taken earlier but committed later is still read.
   */
  lag?: { timeColumn: string; by: Duration }
  /** Turns a row into a record value (default: the row object as node-postgres returns it). */
  map?: (row: Record<string, unknown>) => T
}

const CURSOR = '__sluice_cursor'
const SETTLED = '__sluice_settled'

/** The checkpoint: the column it is a position in, and the last value read. */
interface Checkpoint {
  column: string
  after: string
}

/**
 * A source reading new rows of a PostgreSQL table by an increasing column (polling, not CDC).
 * @example
 * const payments = topic<Payment>('payments', { key: (p) => p.card })
 * connect('payments-in', {
 *   from: postgresPoll({ url: 'postgres://127.0.0.1/app', table: 'payments', column: 'id', interval: '500ms' }),
 *   to: payments,
 * })
 */
// `any` when nothing says what T is: inside connect() the target topic's type cannot flow into
// this call, and a raw row may feed any topic (its schema, if declared, checks it at append).
// biome-ignore lint/suspicious/noExplicitAny: see above
export function postgresPoll<T = any>(options: PostgresPollOptions<T>): Source<T> {
  if ((options.table === undefined) === (options.query === undefined)) {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'postgresPoll: give either table or query')
  }
  checkConnection(options, 'postgresPoll')
  const column = options.column ?? 'id'
  const batchSize = options.batchSize ?? 1_000
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'postgresPoll: batchSize must be a positive integer')
  }
  const intervalMs = parseDuration(options.interval ?? '1s', 'postgresPoll interval')
  const lagMs = options.lag ? parseDuration(options.lag.by, 'postgresPoll lag') : 0
  const from =
    options.table !== undefined
      ? qualifiedName(options.table).sql
      : `(${options.query!.trim().replace(/;$/, '')})`
  const col = `q.${quoteIdent(column)}`
  // With a lag: whether each row is old enough; a read stops at the first that is not.
  const settled = options.lag
    ? `, (q.${quoteIdent(options.lag.timeColumn)} <= now() - $3::interval) AS ${SETTLED}`
    : ''
  const select = (where: string) =>
    `SELECT q.*, (${col})::text AS ${CURSOR}${settled} FROM ${from} AS q ${where} ORDER BY ${col} LIMIT $2`
  // $1 is null here; it is named so both statements take the same parameters.
  const first = select('WHERE $1::text IS NULL')
  const next = select(`WHERE ${col} > $1`)
  const what = options.table !== undefined ? qualifiedName(options.table).text : 'query'

  return {
    role: 'source',
    type: 'postgres-poll',
    async run(context: SourceContext<T>): Promise<void> {
      let position = startPosition(context, column, options.after)
      const pool = await createPool(options, `postgresPoll ${context.connector}`)
      try {
        while (!context.signal.aborted) {
          const params: unknown[] = [position ?? null, batchSize]
          if (options.lag) params.push(`${lagMs} milliseconds`)
          let result: pg.QueryResult<Record<string, unknown>>
          try {
            result = await pool.query(position === undefined ? first : next, params)
          } catch (error) {
            throw new Error(
              `postgresPoll ${context.connector}: reading ${what} at ${describeTarget(options)} failed: ${(error as Error).message}`,
              { cause: error },
            )
          }
          let rows = result.rows
          const cut = options.lag ? rows.findIndex((r) => r[SETTLED] !== true) : -1
          if (cut >= 0) rows = rows.slice(0, cut)
          if (rows.length > 0) {
            const last = rows.at(-1)![CURSOR] as string
            const records: SourceRecord<T>[] = rows.map((row) => {
              delete row[CURSOR]
              delete row[SETTLED]
              return { value: options.map ? options.map(row) : (row as T) }
            })
            const checkpoint: Checkpoint = { column, after: last }
            await context.append(records, { checkpoint: JSON.stringify(checkpoint) })
            position = last
          }
          // A full page means more may be waiting: read again at once.
          if (rows.length < batchSize || cut >= 0) await sleep(intervalMs, context.signal)
        }
      } finally {
        await pool.end().catch(() => {})
      }
    },
  }
}

function startPosition<T>(
  context: SourceContext<T>,
  column: string,
  after: string | number | undefined,
): string | undefined {
  if (context.checkpoint === undefined) return after === undefined ? undefined : String(after)
  let saved: Checkpoint
  try {
    saved = JSON.parse(context.checkpoint) as Checkpoint
  } catch {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `postgresPoll ${context.connector}: the stored checkpoint ${context.checkpoint} is not one of this source's; ` +
        'a connector name identifies its checkpoint, so give this source a new connector name',
    )
  }
  if (saved.column !== column) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `postgresPoll ${context.connector}: the stored checkpoint is a position in column ${saved.column}, not ${column}. ` +
        'To read by another column, give the connector a new name (it then starts over, or at `after`).',
    )
  }
  return saved.after
}
