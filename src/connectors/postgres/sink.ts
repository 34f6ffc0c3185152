/**
 * `postgres()`: a sink that writes a topic into a PostgreSQL table, exactly once.
 *
 * One batch is one PostgreSQL transaction, in this order:
 *
 * 1. move the positions of the batch's partitions from `from` to `to` in the offsets table;
 *    a partition that does not stand at `from` fails the statement, which aborts the
 *    transaction: another worker has written past `from`, so the batch fails with
 *    StalePositionError (the row locks taken here also make a concurrent writer of the same
 *    partitions wait, then fail);
 * 2. write the rows (COPY, or INSERT … [ON CONFLICT DO UPDATE], write.ts);
 * 3. dead-letter the records the table refused: into `deadLetterTable` in this transaction, or
 *    (default) to the connector's dead-letter topic, durably, before the COMMIT — so a crash
 *    can repeat a dead letter but never lose one;
 * 4. COMMIT.
 *
 * BEGIN, 1, 2 and 4 go to PostgreSQL together, in one round trip (pipeline.ts); PostgreSQL
 * skips everything after a failed statement, so a stale or refused batch never reaches its
 * COMMIT. A batch with dead letters holds its COMMIT back until step 3 is done.
 *
 * Crash reasoning: before 4 nothing is visible and the positions still say `from`, so the batch
 * is read and written again; after 4 the positions say `to`, so it is not. When COMMIT's outcome
 * is unknown (the connection broke), the runner reads the positions back and resumes from
 * whichever is true.
 *
 * The runner reads the next batch while this one is written and calls `prepare` with it: the
 * mapping to rows and the COPY text are built then, off the critical path.
 *
 * A row PostgreSQL refuses (SQLSTATE class 22 data exception or 23 constraint violation) fails
 * its statement — a COPY fails whole. The batch is then written again in a second transaction
 * the JSON way, bisecting under savepoints to find the refused rows, which are by default
 * dead-lettered with PostgreSQL's message; `onRejected: 'fail'` fails the batch instead (the
 * runner retries it with backoff, so the partition waits until the table or the data is fixed).
 */
import type pg from 'pg'
import { SluiceError } from '../../errors.ts'
import { type Sink, type SinkBatch, type SinkContext, type SinkRecord, StalePositionError } from '../types.ts'
import { ensureDeadLetterTable, writeDeadLetters } from './dead-letters.ts'
import {
  ensureOffsetsTable,
  isFenceError,
  movePositions,
  moveStatement,
  readPositions,
  staleError,
} from './offsets.ts'
import { runPipeline, type Statement } from './pipeline.ts'
import { checkConnection, createPool, describeTarget, type PostgresConnection, sqlState } from './pool.ts'
import { type ColumnMapping, encodeRows, type RejectedRecord, type Row, toRows } from './rows.ts'
import { type QualifiedName, qualifiedName, type TableName } from './sql.ts'
import { checkColumns, readTableInfo, type TableInfo } from './table-info.ts'
import { TableWriter } from './write.ts'

export interface PostgresSinkOptions<T> extends PostgresConnection {
  /** The target table, `name` or `schema.name` (taken literally: case-sensitive). It must exist. */
  table: TableName
  /** How a record becomes a row (default: the value's fields, into columns of the same names). */
  columns?: ColumnMapping<T>
  /**
   * Upsert on these columns (a primary key or unique index of the table): a row whose key is in
   * the table updates the columns the record gives. Without `key`, every record is a new row.
   */
  key?: readonly string[]
  /**
   * Most records per batch, that is per transaction (default 10,000: each transaction costs
   * PostgreSQL a WAL flush; at a low rate batches are small whatever the setting).
   */
  batchSize?: number
  /** Where positions are kept (default `sluice_sink_offsets`; created if missing). */
  offsetsTable?: TableName
  /**
   * A record the table refuses (PostgreSQL rejects its row, or it cannot be mapped to one):
   * `dead-letter` (default) sets it aside with the reason and goes on; `fail` fails the batch
   * with the reason, and the runner retries it until it goes through.
   */
  onRejected?: 'dead-letter' | 'fail'
  /**
   * Dead letters go to the connector's dead-letter topic `<connector>-dlq` by default (where
   * records that fail the topic's schema go too). With a table name (e.g.
   * `sluice_sink_dead_letters`, created if missing) they go into that PostgreSQL table instead,
   * in the batch's transaction: exactly once, and queryable beside the rows.
   */
  deadLetterTable?: TableName
}

/**
 * A sink writing each record as a row of a PostgreSQL table, exactly once: the topic offsets
 * it has written up to are stored in the same transaction as the rows.
 * @example
 * const alerts = topic<{ id: string; card: string; amount: number }>('alerts')
 * connect('alerts-to-pg', {
 *   from: alerts,
 *   to: postgres({ url: 'postgres://127.0.0.1/app', table: 'alerts', key: ['id'] }),
 * })
 */
// `any` when nothing says what T is: inside connect() TypeScript infers this call before the
// topic's type is known, and `unknown` would make connect() reject the topic. Write
// postgres<Alert>(…) to have `columns` checked against the record type.
// biome-ignore lint/suspicious/noExplicitAny: see above
export function postgres<T = any>(options: PostgresSinkOptions<T>): Sink<T> {
  return new PostgresSink(options)
}

const ROW_ERROR_CLASSES = ['22', '23']
/** 21000: "ON CONFLICT DO UPDATE command cannot affect row a second time" — two rows of one
 * statement whose keys PostgreSQL finds equal though JavaScript does not (citext, numeric
 * scale): bisecting puts them in separate statements, which is what writing them in order means. */
const isRowError = (error: unknown) => {
  const state = sqlState(error)
  return state !== undefined && (ROW_ERROR_CLASSES.includes(state.slice(0, 2)) || state === '21000')
}

class PostgresSink<T> implements Sink<T> {
  readonly role = 'sink'
  readonly type = 'postgres'
  readonly guarantee = 'exactly-once'
  readonly batchSize: number
  readonly #options: PostgresSinkOptions<T>
  readonly #table: QualifiedName
  readonly #offsets: QualifiedName
  readonly #onRejected: 'dead-letter' | 'fail'
  readonly #deadLetterTable: QualifiedName | undefined
  readonly #key: readonly string[]
  #pool: pg.Pool | undefined
  #context: SinkContext | undefined
  #info: TableInfo | undefined
  #writable = new Set<string>()
  #writer: TableWriter | undefined
  /** Batches prepared ahead of their write (weak: one never written is simply dropped). */
  readonly #prepared = new WeakMap<SinkBatch<T>, Prepared<T>>()

  constructor(options: PostgresSinkOptions<T>) {
    const batchSize = options.batchSize ?? 10_000
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `postgres sink: batchSize must be a positive integer`)
    }
    const onRejected = options.onRejected ?? 'dead-letter'
    if (onRejected !== 'dead-letter' && onRejected !== 'fail') {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `postgres sink: onRejected must be 'dead-letter' or 'fail', got ${String(onRejected)}`,
      )
    }
    checkConnection(options, 'postgres sink')
    const key = options.key ?? []
    if (key.some((k) => typeof k !== 'string' || k === '') || new Set(key).size !== key.length) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'postgres sink: key must list distinct column names')
    }
    this.batchSize = batchSize
    this.#options = options
    this.#key = key
    this.#table = qualifiedName(options.table)
    this.#offsets = qualifiedName(options.offsetsTable ?? 'sluice_sink_offsets', 'offsetsTable')
    this.#onRejected = onRejected
    this.#deadLetterTable =
      options.deadLetterTable === undefined
        ? undefined
        : qualifiedName(options.deadLetterTable, 'deadLetterTable')
  }

  get #label(): string {
    return `postgres sink ${this.#context?.connector ?? ''} (${this.#info?.text ?? this.#table.text})`
  }

  async open(context: SinkContext): Promise<void> {
    this.#context = context
    const pool = await createPool(this.#options, this.#label)
    try {
      const client = await pool.connect().catch((error: Error) => {
        throw new Error(
          `${this.#label}: cannot connect to PostgreSQL at ${describeTarget(this.#options)}: ${error.message}`,
          { cause: error },
        )
      })
      try {
        const info = await readTableInfo(client, this.#table)
        const mapped = Array.isArray(this.#options.columns)
          ? (this.#options.columns as readonly string[])
          : []
        checkColumns(info, [...new Set([...mapped, ...this.#key])], this.#key)
        await ensureOffsetsTable(client, this.#offsets)
        if (this.#deadLetterTable) await ensureDeadLetterTable(client, this.#deadLetterTable)
        this.#info = info
        this.#writable = new Set([...info.columns.values()].filter((c) => !c.readOnly).map((c) => c.name))
        this.#writer = new TableWriter(this.#table, info, this.#key)
      } finally {
        client.release()
      }
    } catch (error) {
      await pool.end().catch(() => {})
      throw error
    }
    this.#pool = pool
  }

  async positions(partitions: readonly number[]): Promise<Map<number, number>> {
    const { connector, topic } = this.#opened()
    try {
      return await readPositions(this.#pool!, this.#offsets, connector, topic, partitions)
    } catch (error) {
      throw new Error(
        `${this.#label}: reading positions from ${this.#offsets.text} failed: ${pgMessage(error)}`,
        {
          cause: error,
        },
      )
    }
  }

  prepare(batch: SinkBatch<T>): void {
    if (this.#writer) this.#prepared.set(batch, this.#prepareRows(batch))
  }

  async write(batch: SinkBatch<T>): Promise<void> {
    this.#opened()
    const prepared = this.#prepared.get(batch) ?? this.#prepareRows(batch)
    this.#prepared.delete(batch)
    const firstRejected = prepared.unmapped[0] ?? prepared.unsent[0]
    if (firstRejected && this.#onRejected === 'fail') throw this.#rejection(firstRejected)
    const client = await this.#pool!.connect()
    // A connection cut between two statements is reported as an 'error' event (nobody to
    // reject); unheard, it would crash the process. The next statement fails instead.
    let broken: Error | undefined
    const onError = (error: Error) => {
      broken = error
    }
    client.on('error', onError)
    try {
      if (await this.#writePrepared(client, batch, prepared)) return
      // PostgreSQL refused a row: find which, in a second transaction, by bisecting.
      const unsent: RejectedRecord<T>[] = []
      const rows = encodeRows(prepared.rows, unsent)
      await this.#transaction(client, batch, async () => {
        const refused: RejectedRecord<T>[] = []
        await this.#isolate(client, rows, refused)
        await this.#writeDeadLetters(client, [...prepared.unmapped, ...unsent, ...refused])
      })
    } catch (error) {
      if (error instanceof StalePositionError || error instanceof SluiceError) throw error
      // No SQLSTATE: the connection failed, not the statement; do not reuse it.
      if (sqlState(error) === undefined) broken = error as Error
      throw new Error(`${this.#label}: writing ${batch.records.length} records failed: ${pgMessage(error)}`, {
        cause: error,
      })
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }

  #prepareRows(batch: SinkBatch<T>): Prepared<T> {
    const { rows, rejected } = toRows(
      batch.records,
      this.#options.columns,
      this.#writable,
      this.#info!.text,
      this.#key,
    )
    const unsent: RejectedRecord<T>[] = []
    return { rows, unmapped: rejected, statements: this.#writer!.statements(rows, unsent), unsent }
  }

  /**
   * Steps 1–4 of the file comment, with the prepared statements. False when PostgreSQL refused
   * a row (the transaction is rolled back; the caller bisects).
   */
  async #writePrepared(client: pg.PoolClient, batch: SinkBatch<T>, prepared: Prepared<T>): Promise<boolean> {
    const { connector, topic } = this.#opened()
    const deadLetters = [...prepared.unmapped, ...prepared.unsent]
    const statements: Statement[] = [{ text: 'BEGIN' }]
    if (batch.positions.size > 0) {
      statements.push(moveStatement(this.#offsets, connector, topic, batch.positions, 'fail'))
    }
    const fence = statements.length - 1 // 0 (BEGIN) when there is nothing to move
    const firstRows = statements.length
    statements.push(...prepared.statements)
    const endRows = statements.length
    // Dead letters must be durable before the COMMIT, so with some the COMMIT waits for them.
    if (deadLetters.length === 0) statements.push({ text: 'COMMIT' })
    const { done, error } = await runPipeline(client, statements)
    try {
      if (error) throw error
      if (deadLetters.length > 0) {
        await this.#writeDeadLetters(client, deadLetters)
        await client.query('COMMIT')
      }
      return true
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {})
      if (e !== error) throw e
      // Statement done.length failed, and none after it ran.
      const failed = done.length
      if (failed === fence && fence > 0 && isFenceError(e)) {
        throw await staleError(client, this.#offsets, connector, topic, batch.positions)
      }
      if (failed >= firstRows && failed < endRows && isRowError(e)) return false
      throw e
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool
    this.#pool = undefined
    await pool?.end()
  }

  async #transaction(client: pg.PoolClient, batch: SinkBatch<T>, body: () => Promise<void>): Promise<void> {
    const { connector, topic } = this.#opened()
    await client.query('BEGIN')
    try {
      await movePositions(client, this.#offsets, connector, topic, batch.positions)
      await body()
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    }
  }

  /**
   * Writes `rows`, setting aside the ones PostgreSQL refuses: try them all under a savepoint;
   * if refused, roll back to it and try each half. k bad rows of n cost about 2k·log2(n)
   * statements, and the good rows still go in, in their order.
   */
  async #isolate(
    client: pg.PoolClient,
    rows: readonly Row<T>[],
    refused: RejectedRecord<T>[],
  ): Promise<void> {
    if (rows.length === 0) return
    await client.query('SAVEPOINT sluice_rows')
    try {
      await this.#writer!.write(client, rows)
      await client.query('RELEASE SAVEPOINT sluice_rows')
      return
    } catch (error) {
      if (!isRowError(error)) throw error
      await client.query('ROLLBACK TO SAVEPOINT sluice_rows')
      await client.query('RELEASE SAVEPOINT sluice_rows')
      if (rows.length === 1) {
        const reasons = rows[0]!.sources.map((record) => ({
          record,
          error: pgMessage(error),
          sqlState: sqlState(error)!,
        }))
        if (this.#onRejected === 'fail') throw this.#rejection(reasons[0]!)
        refused.push(...reasons)
        return
      }
    }
    const half = rows.length >>> 1
    await this.#isolate(client, rows.slice(0, half), refused)
    await this.#isolate(client, rows.slice(half), refused)
  }

  async #writeDeadLetters(client: pg.PoolClient, rejected: readonly RejectedRecord<T>[]): Promise<void> {
    if (rejected.length === 0) return
    const context = this.#opened()
    if (this.#deadLetterTable) {
      await writeDeadLetters(client, this.#deadLetterTable, context.connector, context.topic, rejected)
      return
    }
    const byError = new Map<string, SinkRecord<T>[]>()
    for (const r of rejected) {
      const reason = `${this.#info!.text} refused the record: ${r.error}`
      const same = byError.get(reason)
      if (same) same.push(r.record)
      else byError.set(reason, [r.record])
    }
    // Together, so the log's producer batches them into one durable append.
    await Promise.all([...byError].map(([error, records]) => context.deadLetter(records, error)))
  }

  #rejection(r: RejectedRecord<T>): SluiceError {
    return new SluiceError(
      'SLUICE_INVALID_INPUT',
      `${this.#label}: the record at partition ${r.record.partition} offset ${r.record.offset} was refused: ${r.error}. ` +
        'Fix the table or the data (the batch is retried until it goes through), or set ' +
        "onRejected: 'dead-letter' to set such records aside.",
    )
  }

  #opened(): SinkContext {
    if (!this.#context || !this.#pool) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `${this.#label}: used before open() or after close()`)
    }
    return this.#context
  }
}

/** A batch mapped to rows and to the statements that write them. */
interface Prepared<T> {
  /** Rows of the records (merged by key for upserts). */
  readonly rows: Row<T>[]
  /** Records that could not become a row. */
  readonly unmapped: RejectedRecord<T>[]
  /** What writes `rows`: COPY or INSERT statements (write.ts). */
  readonly statements: Statement[]
  /** Rows the statements leave out because they cannot be sent (not even as JSON). */
  readonly unsent: RejectedRecord<T>[]
}

/** PostgreSQL's message with its SQLSTATE and detail ("Key (id)=(7) already exists."). */
function pgMessage(error: unknown): string {
  const e = error as { message?: string; detail?: string }
  const state = sqlState(error)
  return `${e.message ?? String(error)}${e.detail ? ` (${e.detail})` : ''}${state ? ` [SQLSTATE ${state}]` : ''}`
}
