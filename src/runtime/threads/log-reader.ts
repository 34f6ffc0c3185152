/**
 * A worker's read-only view of the embedded log: it opens the same LMDB environment as the
 * main thread (lmdb-js shares one environment between the threads of a process) and reads
 * batches itself, so records never cross threads on the way in.
 *
 * Only the main thread writes: it owns the EmbeddedLog, which hands out offsets in memory.
 * A worker learns the committed end of a partition (its high watermark) from the
 * `partitions` sub-database, which each commit writes in the same LMDB transaction as the
 * batches: what a read transaction sees there is exactly what that snapshot holds. The data
 * directory's LOCK file stays the main thread's.
 */
import { join } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'
import { SluiceError } from '../../errors.ts'
import { decodeBatch } from '../../log/embedded/batch-codec.ts'
import {
  baseOffsetOfKey,
  batchKey,
  type Durability,
  decodePartitionMeta,
  floorBatchKey,
  partitionKey,
  type TopicRecord,
} from '../../log/embedded/storage.ts'
import type { LogRecord, TopicPartition } from '../../log/types.ts'

export interface LogReaderOptions {
  dataDir: string
  /** The log's durability: the environment must be opened with the flags it was opened with. */
  durability: Durability
}

export class LogReader {
  readonly #env: RootDatabase
  readonly #topics: Database<TopicRecord, string>
  readonly #batches: Database<Buffer, Buffer>
  readonly #partitions: Database<Buffer, Buffer>
  /** Engine state stores: "<store>\0<partition>\0<key>" → value (msgpack), as in storage.ts. */
  readonly state: Database<unknown, string>
  readonly #known = new Map<string, TopicRecord>()

  constructor({ dataDir, durability }: LogReaderOptions) {
    // The same flags as storage.ts: lmdb-js refuses to join an open environment with
    // different sync flags. `readOnly` opens the sub-databases without a write transaction.
    this.#env = open({
      path: join(dataDir, 'log.mdb'),
      ...(durability === 'sync' ? { overlappingSync: true } : { noSync: true, overlappingSync: false }),
      separateFlushed: true,
      maxDbs: 16,
      mapSize: 2 * 1024 ** 3,
      compression: false,
      readOnly: true,
    })
    const binary = { keyEncoding: 'binary', encoding: 'binary' } as const
    this.#topics = this.#env.openDB<TopicRecord, string>('topics', { encoding: 'msgpack' })
    this.#batches = this.#env.openDB<Buffer, Buffer>('batches', binary)
    this.#partitions = this.#env.openDB<Buffer, Buffer>('partitions', binary)
    this.state = this.#env.openDB<unknown, string>('state', { encoding: 'msgpack' })
  }

  /**
   * Starts a fresh snapshot for the next reads. lmdb-js keeps one read transaction until the
   * next macrotask; a worker that only awaits microtasks would otherwise never see new commits.
   */
  refresh(): void {
    this.#env.resetReadTxn()
  }

  topic(name: string): TopicRecord {
    let record = this.#known.get(name)
    if (!record) {
      record = this.#topics.get(name)
      if (!record) {
        throw new SluiceError(
          'SLUICE_UNKNOWN_TOPIC',
          `unknown topic "${name}": the main thread creates a pipeline's topics before its workers start`,
        )
      }
      this.#known.set(name, record)
    }
    return record
  }

  partitionsOf(name: string): number {
    return this.topic(name).partitions
  }

  /** The committed range of a partition in the current snapshot. */
  bounds(tp: TopicPartition): { startOffset: number; highWatermark: number } {
    const meta = this.#partitions.get(partitionKey(this.topic(tp.topic).id, tp.partition))
    if (!meta) return { startOffset: 0, highWatermark: 0 }
    const { nextOffset, startOffset } = decodePartitionMeta(meta)
    return { startOffset, highWatermark: nextOffset }
  }

  /**
   * Reads committed records from `offset`, as EmbeddedLog.read does: the batch holding
   * `offset` is the last one whose base offset is ≤ offset (one reverse seek), then forward.
   */
  read(tp: TopicPartition, offset: number, maxRecords: number, maxBytes = 16 * 1024 * 1024): LogRecord[] {
    const { startOffset, highWatermark } = this.bounds(tp)
    if (offset < startOffset || offset > highWatermark) {
      throw new SluiceError(
        'SLUICE_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside topic "${tp.topic}" partition ${tp.partition} ` +
          `(stored: ${startOffset}..${highWatermark - 1})`,
      )
    }
    const out: LogRecord[] = []
    if (offset === highWatermark) return out
    const { id } = this.topic(tp.topic)
    const start = floorBatchKey(this.#batches, id, tp.partition, offset)
    let bytes = 0
    for (const { key, value } of this.#batches.getRange({ start, end: batchKey(id, tp.partition + 1, 0) })) {
      const base = baseOffsetOfKey(key)
      // Bounded by the high watermark read above, even if a later snapshot holds more.
      if (base >= highWatermark) break
      decodeBatch(value, tp, base, offset, out, maxRecords)
      bytes += value.length
      if (out.length >= maxRecords || bytes >= maxBytes) break
    }
    return out
  }

  /** Closes this thread's handle; the environment stays open for the other threads. */
  close(): Promise<void> {
    return this.#env.close()
  }
}
