import { SluiceError } from '../../errors.ts'
import { Partitioner } from '../partitioner.ts'
import type { Producer, ProducerOptions, ProducerRecord, RecordMetadata } from '../types.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import type { PartitionState } from './partition-state.ts'

/**
 * A run of consecutive records of one `send` bound for the same batch. Records are buffered
 * as runs, not one by one, and their metadata is created once the batch is acknowledged:
 * per-record work in `send` stays a size check and a partition choice.
 */
interface Run {
  /** A copy of the caller's records `start .. start + records.length - 1`. */
  records: ProducerRecord[]
  /** Their sizes, as `measure` computed them in `send` (not computed again at append). */
  sizes: Uint32Array
  start: number
  partition: number
  /** Offset of `records[0]`, set when the batch holding the run is acknowledged. */
  baseOffset: number
}

/** Records waiting in one partition for their batch to fill up or linger to pass. */
interface Accumulator {
  part: PartitionState
  runs: Run[]
  count: number
  bytes: number
  /** The linger timer; with `lingerMs: 0`, an immediate (the end of this event turn). */
  timer: NodeJS.Timeout | NodeJS.Immediate | null
  /** Settles when the records accumulated so far are acknowledged. */
  done: Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

/**
 * Batches records per partition (linger + batch size) and appends each batch with one
 * `appendBatch`. With an `id`, batches carry the producer's sequence numbers so retries are
 * deduplicated by the log, across restarts too.
 */
export class EmbeddedProducer implements Producer {
  readonly #log: EmbeddedLog
  readonly #partitioner = new Partitioner()
  readonly #lingerMs: number
  readonly #batchBytes: number
  readonly #maxBufferedBytes: number
  readonly #identity: Promise<{ producerId: number; epoch: number }> | null
  readonly #accumulators = new Map<PartitionState, Accumulator>()
  readonly #sequences = new Map<PartitionState, number>()
  readonly #inflight = new Set<Promise<void>>()
  /** Set once `#identity` resolves; `send` awaits that before anything is flushed. */
  #identityValue: { producerId: number; epoch: number } | null = null
  #buffered = 0
  #drainWaiters: Array<() => void> = []
  #closed = false

  constructor(log: EmbeddedLog, options: ProducerOptions) {
    this.#log = log
    this.#lingerMs = options.lingerMs ?? 1
    this.#batchBytes = options.batchBytes ?? 256 * 1024
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 32 * 1024 * 1024
    this.#identity =
      options.id === undefined
        ? null
        : log.initProducerId(options.id).then((identity) => {
            this.#identityValue = identity
            return identity
          })
    // Rejections surface through send(); never as an unhandled rejection here.
    this.#identity?.catch(() => {})
  }

  async send(topic: string, input: ProducerRecord | readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    if (this.#closed) throw new SluiceError('SLUICE_LOG_CLOSED', 'this producer is closed; create a new one')
    const records = Array.isArray(input) ? (input as readonly ProducerRecord[]) : [input as ProducerRecord]
    const n = records.length
    const parts = this.#log.partitionsOf(topic)
    // Check every record before buffering any, so a rejected send appends nothing.
    const sizes = this.#log.measure(parts[0]!, records)
    const targets = new Uint32Array(n)
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const p = r.partition ?? this.#partitioner.partition(r.key, parts.length)
      if (!parts[p]) {
        throw new SluiceError(
          'SLUICE_INVALID_ARGUMENT',
          `record ${i} asks for partition ${p} of topic "${topic}", which has partitions 0..${parts.length - 1}`,
        )
      }
      targets[i] = p
    }
    if (this.#identity) await this.#identity
    while (this.#buffered >= this.#maxBufferedBytes) {
      await new Promise<void>((r) => this.#drainWaiters.push(r))
    }
    const batchBytes = this.#batchBytes
    const runs: Run[] = []
    const waits: Promise<void>[] = []
    let i = 0
    while (i < n) {
      const p = targets[i]!
      const part = parts[p]!
      const acc = this.#accumulators.get(part) ?? this.#newAccumulator(part)
      // Extend the run while records go to the same partition; a batch is sent as soon as a
      // record takes it to `batchBytes` or more.
      const start = i
      let bytes = 0
      do {
        bytes += sizes[i]!
        i++
      } while (i < n && targets[i] === p && acc.bytes + bytes < batchBytes)
      const run: Run = {
        records: records.slice(start, i),
        sizes: sizes.slice(start, i),
        start,
        partition: p,
        baseOffset: -1,
      }
      runs.push(run)
      acc.runs.push(run)
      acc.count += i - start
      acc.bytes += bytes
      this.#buffered += bytes
      if (waits[waits.length - 1] !== acc.done) waits.push(acc.done)
      if (acc.bytes >= batchBytes) this.#flush(acc)
    }
    await Promise.all(waits)
    const results = new Array<RecordMetadata>(n)
    for (const run of runs) {
      const { start, partition, baseOffset } = run
      const end = start + run.records.length
      for (let j = start; j < end; j++) results[j] = { partition, offset: baseOffset + j - start }
    }
    return results
  }

  #newAccumulator(part: PartitionState): Accumulator {
    let resolve!: () => void
    let reject!: (error: Error) => void
    const done = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    done.catch(() => {})
    const acc: Accumulator = { part, runs: [], count: 0, bytes: 0, timer: null, done, resolve, reject }
    // Linger 0 flushes at the end of this event turn, not after a timer: Node's shortest
    // timer is 1 ms, and records sent in the same turn still share one batch.
    acc.timer =
      this.#lingerMs > 0
        ? setTimeout(() => this.#flush(acc), this.#lingerMs)
        : setImmediate(() => this.#flush(acc))
    this.#accumulators.set(part, acc)
    return acc
  }

  #flush(acc: Accumulator): void {
    if (this.#accumulators.get(acc.part) !== acc) return
    this.#accumulators.delete(acc.part)
    if (acc.timer) {
      if (this.#lingerMs > 0) clearTimeout(acc.timer as NodeJS.Timeout)
      else clearImmediate(acc.timer as NodeJS.Immediate)
    }
    const tp = { topic: acc.part.topic.name, partition: acc.part.partition }
    let idempotence: { producerId: number; epoch: number; baseSequence: number } | undefined
    const identity = this.#identityValue
    if (identity) {
      const next = this.#sequences.get(acc.part) ?? this.#log.lastSequence(identity.producerId, tp) + 1
      this.#sequences.set(acc.part, next + acc.count)
      idempotence = { ...identity, baseSequence: next }
    }
    const runs = acc.runs
    let records: ProducerRecord[]
    let sizes: Uint32Array
    if (runs.length === 1) {
      records = runs[0]!.records
      sizes = runs[0]!.sizes
    } else {
      records = new Array<ProducerRecord>(acc.count)
      sizes = new Uint32Array(acc.count)
      let k = 0
      for (const run of runs) {
        sizes.set(run.sizes, k)
        for (const r of run.records) records[k++] = r
      }
    }
    const flight = this.#log.appendBatch(tp, records, idempotence, sizes).then(
      ({ baseOffset }) => {
        let offset = baseOffset
        for (const run of runs) {
          run.baseOffset = offset
          offset += run.records.length
        }
        acc.resolve()
      },
      (error: Error) => acc.reject(error),
    )
    this.#inflight.add(flight)
    void flight.finally(() => {
      this.#inflight.delete(flight)
      this.#buffered -= acc.bytes
      const waiters = this.#drainWaiters
      this.#drainWaiters = []
      for (const w of waiters) w()
    })
  }

  async flush(): Promise<void> {
    for (const acc of [...this.#accumulators.values()]) this.#flush(acc)
    await Promise.allSettled([...this.#inflight])
  }

  async close(): Promise<void> {
    await this.flush()
    this.#closed = true
  }
}
