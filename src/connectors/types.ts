/**
 * The connector interface: how records leave Sluice (a Sink reads a topic and writes
 * somewhere else) and how they come in (a Source reads somewhere else and appends to a topic).
 * PostgreSQL, webhooks, files and MQTT all implement one of these two; docs/connectors.md is
 * the guide to writing another.
 *
 * Connectors sit beside pipelines, on the `Log` interface only, so every connector runs on the
 * embedded log and on Kafka alike. Delivery guarantees are the connector's to state:
 *
 * - an `exactly-once` sink stores the position it has written up to *with* the rows it writes
 *   (one transaction in its own store) and says where to resume from; Sluice seeks there;
 * - an `at-least-once` sink leaves positions to Sluice, which commits them to the topic's
 *   consumer group after each write: a crash between the write and that commit repeats a batch;
 * - a source that can be replayed (a file, a table polled by id) hands a checkpoint with each
 *   batch; Sluice appends the batch and the checkpoint in one log transaction, so a restart
 *   neither skips nor repeats.
 */
import type { Headers, RecordMetadata } from '../log/types.ts'

/** One record a sink receives: decoded and validated with its topic's codec and schema. */
export interface SinkRecord<T> {
  value: T
  key: string | null
  partition: number
  offset: number
  /** Log timestamp (ms). */
  timestamp: number
  headers: Headers
}

/** What a sink writes in one call. */
export interface SinkBatch<T> {
  readonly records: readonly SinkRecord<T>[]
  /**
   * For each partition in this batch: where the sink's stored position must stand now (where the
   * previous batch ended) and where it stands after this batch. An exactly-once sink writes
   * `to` only if its store still says `from` — a check that fences a worker that lost the
   * partition in a rebalance and did not notice yet.
   */
  readonly positions: ReadonlyMap<number, { from: number; to: number }>
}

export interface SinkContext {
  /** The connector's name (a stable id: it keys stored positions and the consumer group). */
  readonly connector: string
  readonly topic: string
  readonly partitions: number
  readonly signal: AbortSignal
  /**
   * Writes records the sink gave up on (rejected by the destination, retries exhausted) to the
   * connector's dead-letter topic `<connector>-dlq` with `error`, and resolves once they are
   * durable: the sink may then resolve `write` and Sluice moves past them.
   */
  deadLetter(records: readonly SinkRecord<unknown>[], error: string): Promise<void>
}

export interface Sink<T> {
  readonly role: 'sink'
  /** What this is (`postgres`, `webhook`, `file`): shown in status and errors. */
  readonly type: string
  readonly guarantee: 'exactly-once' | 'at-least-once'
  /** Most records per `write` (default 1,000). */
  readonly batchSize?: number
  /** Connects, creates what it needs (tables, directories). Called once before anything else. */
  open(context: SinkContext): Promise<void>
  /**
   * Exactly-once sinks: the next offset to write for each partition, from the sink's own store
   * (partitions it has never written are left out and start at the topic's beginning).
   */
  positions?(partitions: readonly number[]): Promise<Map<number, number>>
  /**
   * Optional: turns a batch into what `write` will send (rows, a COPY payload) ahead of time,
   * without writing anything. For exactly-once sinks Sluice reads the next batch while the
   * current one is being written and calls this with it, so that CPU work overlaps the write's
   * I/O; `write` then gets the same batch object. A batch prepared may never be written (the
   * write before it failed: it is read again, as a new object).
   */
  prepare?(batch: SinkBatch<T>): void
  /**
   * Writes a batch. Resolves once it is durable. Throwing makes Sluice retry the batch with
   * backoff (an exactly-once sink first re-reads its positions, so a write whose outcome was
   * unknown is neither lost nor repeated). Throw a `StalePositionError` when the stored
   * position is not `from`: another worker owns the partition now.
   */
  write(batch: SinkBatch<T>): Promise<void>
  close(): Promise<void>
}

/** A sink's stored position did not match: this worker no longer owns the partition. */
export class StalePositionError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StalePositionError'
  }
}

/** What a source may set on a record besides its value. */
export interface SourceRecord<T> {
  value: T
  /** The record key; default: the topic's `key` function, else none. */
  key?: string | null
  /** Event/log time (ms); default: the topic's `timestamp` function, else the append time. */
  timestamp?: number
  headers?: Headers
}

/**
 * Input a source could not turn into a record (a line that is not JSON, a CSV row with the wrong
 * number of fields). Passed to `append` with the batch it was read in, it goes to `<connector>-dlq`
 * in the same transaction as the batch and its checkpoint, so a restart neither loses nor repeats it.
 */
export interface SourceDeadLetter {
  /** The input as it was read. */
  value: string | Uint8Array
  /** Why it was rejected, and where it came from (file and line, MQTT topic). */
  error: string
  key?: string | null
  headers?: Headers
}

export interface SourceContext<T> {
  readonly connector: string
  readonly topic: string
  readonly signal: AbortSignal
  /** The checkpoint stored with the last appended batch, if any: where to resume reading. */
  readonly checkpoint: string | undefined
  /**
   * Validates each record against the topic's schema, keys and encodes it, and appends the
   * batch; resolves when it is durable. With a checkpoint, the records and the checkpoint
   * commit in one transaction. Records that fail validation go to the connector's dead-letter
   * topic (`<connector>-dlq`) instead, with the error in their headers; the rest are appended.
   * `deadLetters` go to that topic too, with the batch.
   * Awaiting this is the backpressure: a source reads no faster than the log appends.
   */
  append(
    records: readonly SourceRecord<T>[],
    options?: { checkpoint?: string; deadLetters?: readonly SourceDeadLetter[] },
  ): Promise<RecordMetadata[]>
  /** For messages about the source itself (a reconnect, a skipped file): shown by the CLI. */
  report(message: string): void
}

export interface Source<T> {
  readonly role: 'source'
  /** What this is (`mqtt`, `file`, `postgres-poll`): shown in status and errors. */
  readonly type: string
  /**
   * Reads until `context.signal` aborts (then resolves) or the input ends (a file read once).
   * Throwing stops the connector; Sluice restarts it with backoff.
   */
  run(context: SourceContext<T>): Promise<void>
}
