import type { TopicPartition } from '../types.ts'
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
  #waiters: Array<() => void> = []

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

  notify(): void {
    if (this.#waiters.length === 0) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}

/** Waits until one of `parts` gets new committed records, or `ms` pass. */
export function waitForAppend(parts: readonly PartitionState[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const cancels: Array<() => void> = []
    const done = () => {
      clearTimeout(timer)
      for (const c of cancels) c()
      resolve()
    }
    const timer = setTimeout(done, ms)
    for (const p of parts) cancels.push(p.onAppend(done))
  })
}
