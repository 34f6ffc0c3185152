import type { LogRecord, TopicPartition } from '../types.ts'
import type { TopicRecord } from './storage.ts'

/**
 * What the log keeps in memory per partition. `nextOffset` runs ahead of `highWatermark`
 * while commits are in flight: offsets are handed out when a batch is staged (on the JS
 * thread, so in order) and become readable when its LMDB transaction commits.
 */
export class PartitionState {
  readonly topic: TopicRecord
  readonly partition: number
  readonly tp: TopicPartition
  /** Offset the next staged record gets. */
  nextOffset: number
  /** One past the last committed (readable) offset. */
  highWatermark: number
  startOffset: number
  bytes = 0
  batches = 0
  /**
   * Batches queued to LMDB whose commit has not landed, in offset order: from
   * `highWatermark` to `nextOffset`. Only `EmbeddedLog.readQueued` reads them.
   */
  queued: Array<{ baseOffset: number; count: number; batch: Buffer }> = []
  /**
   * The last stored batch `EmbeddedLog.read` decoded, whole. A reader takes a few thousand
   * records per read and a batch holds up to 1 MiB of them, so the next read usually starts in
   * the same batch: it is served from here without reading the batch from LMDB again (which
   * copies the whole value: 150 µs for 1 MiB) or decoding it again. The cleaner drops it when
   * it rewrites the partition's batches; a read between that rewrite's commit and the drop
   * sees the batch as it was before compaction, which compaction allows (offsets do not
   * change, and it only removes records a later one supersedes). Dropped once a read reaches
   * the batch's end, so only partitions read partway hold one.
   */
  lastBatch: {
    base: number
    length: number
    crc: number
    records: LogRecord[]
    /** Decoded for readQueued: as BatchRecords. */
    lazyBytes: boolean
  } | null = null
  #waiters: Array<() => void> = []
  #queueWaiters: Array<() => void> = []

  constructor(topic: TopicRecord, partition: number, nextOffset: number, startOffset: number) {
    this.topic = topic
    this.partition = partition
    this.tp = { topic: topic.name, partition }
    this.nextOffset = nextOffset
    this.highWatermark = nextOffset
    this.startOffset = startOffset
  }

  /** Resolves at the next commit that makes records of this partition readable. */
  onAppend(waiter: () => void): () => void {
    this.#waiters.push(waiter)
    return () => {
      const i = this.#waiters.indexOf(waiter)
      if (i >= 0) this.#waiters.splice(i, 1)
    }
  }

  /** Resolves at the next batch of this partition queued to LMDB. */
  onQueue(waiter: () => void): () => void {
    this.#queueWaiters.push(waiter)
    return () => {
      const i = this.#queueWaiters.indexOf(waiter)
      if (i >= 0) this.#queueWaiters.splice(i, 1)
    }
  }

  notifyQueued(): void {
    if (this.#queueWaiters.length === 0) return
    const waiters = this.#queueWaiters
    this.#queueWaiters = []
    for (const w of waiters) w()
  }

  notify(): void {
    if (this.#waiters.length === 0) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}

/** Waits until one of `parts` gets new committed records, or `ms` pass. */
export function waitForAppend(parts: readonly PartitionState[], ms: number): Promise<void> {
  return waitFor(parts, ms, (p, done) => [p.onAppend(done)])
}

/** Waits until one of `parts` gets a batch queued to LMDB (or committed), or `ms` pass. */
export function waitForQueue(parts: readonly PartitionState[], ms: number): Promise<void> {
  return waitFor(parts, ms, (p, done) => [p.onQueue(done), p.onAppend(done)])
}

function waitFor(
  parts: readonly PartitionState[],
  ms: number,
  subscribe: (p: PartitionState, done: () => void) => Array<() => void>,
): Promise<void> {
  return new Promise((resolve) => {
    const cancels: Array<() => void> = []
    const done = () => {
      clearTimeout(timer)
      for (const c of cancels) c()
      resolve()
    }
    const timer = setTimeout(done, ms)
    for (const p of parts) cancels.push(...subscribe(p, done))
  })
}
