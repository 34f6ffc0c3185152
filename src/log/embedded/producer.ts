import { SluiceError } from '../../errors.ts'
import { Partitioner } from '../partitioner.ts'
import type { Producer, ProducerOptions, ProducerRecord, RecordMetadata } from '../types.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import type { PartitionState } from './partition-state.ts'

/** Records waiting in one partition for their batch to fill up or linger to pass. */
interface Accumulator {
  part: PartitionState
  records: ProducerRecord[]
  results: RecordMetadata[]
  bytes: number
  timer: NodeJS.Timeout | null
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
    const parts = this.#log.partitionsOf(topic)
    // Check every record before buffering any, so a rejected send appends nothing.
    const sizes = this.#log.measure(parts[0]!, records)
    const targets = new Array<PartitionState>(records.length)
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      const p = r.partition ?? this.#partitioner.partition(r.key, parts.length)
      const part = parts[p]
      if (!part) {
        throw new SluiceError(
          'SLUICE_INVALID_ARGUMENT',
          `record ${i} asks for partition ${p} of topic "${topic}", which has partitions 0..${parts.length - 1}`,
        )
      }
      targets[i] = part
    }
    if (this.#identity) await this.#identity
    while (this.#buffered >= this.#maxBufferedBytes) {
      await new Promise<void>((r) => this.#drainWaiters.push(r))
    }
    const results = new Array<RecordMetadata>(records.length)
    const waits = new Set<Promise<void>>()
    for (let i = 0; i < records.length; i++) {
      const part = targets[i]!
      let acc = this.#accumulators.get(part)
      if (!acc) acc = this.#newAccumulator(part)
      const meta = { partition: part.partition, offset: -1 }
      results[i] = meta
      acc.records.push(records[i]!)
      acc.results.push(meta)
      acc.bytes += sizes[i]!
      this.#buffered += sizes[i]!
      waits.add(acc.done)
      if (acc.bytes >= this.#batchBytes) this.#flush(acc)
    }
    await Promise.all(waits)
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
    const acc: Accumulator = { part, records: [], results: [], bytes: 0, timer: null, done, resolve, reject }
    acc.timer = setTimeout(() => this.#flush(acc), this.#lingerMs)
    this.#accumulators.set(part, acc)
    return acc
  }

  #flush(acc: Accumulator): void {
    if (this.#accumulators.get(acc.part) !== acc) return
    this.#accumulators.delete(acc.part)
    if (acc.timer) clearTimeout(acc.timer)
    const tp = { topic: acc.part.topic.name, partition: acc.part.partition }
    let idempotence: { producerId: number; epoch: number; baseSequence: number } | undefined
    const identity = this.#identityValue
    if (identity) {
      const next = this.#sequences.get(acc.part) ?? this.#log.lastSequence(identity.producerId, tp) + 1
      this.#sequences.set(acc.part, next + acc.records.length)
      idempotence = { ...identity, baseSequence: next }
    }
    const flight = this.#log.appendBatch(tp, acc.records, idempotence).then(
      ({ baseOffset }) => {
        for (let j = 0; j < acc.results.length; j++) acc.results[j]!.offset = baseOffset + j
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
