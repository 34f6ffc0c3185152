import { SluiceError } from '../../errors.ts'
import { Partitioner } from '../partitioner.ts'
import type { ProducerRecord, RecordMetadata, TopicPartitionOffset, Transaction } from '../types.ts'
import type { EmbeddedLog, StagedAppend, StagedCommit } from './embedded-log.ts'
import type { PartitionState } from './partition-state.ts'

type State = 'open' | 'committing' | 'committed' | 'aborted'

/**
 * A transaction on the embedded log is one LMDB write transaction: every append, every
 * consumer-group offset and every extra write (the engine's state) commits together or not
 * at all, and readers see nothing of it before the commit.
 */
export class EmbeddedTransaction implements Transaction {
  readonly #log: EmbeddedLog
  readonly #id: string
  readonly #partitioner = new Partitioner()
  #sends: Array<{ topic: string; records: readonly ProducerRecord[] }> = []
  #offsets: Array<{ group: string } & TopicPartitionOffset> = []
  #writes: Array<() => void> = []
  #state: State = 'open'

  constructor(log: EmbeddedLog, id: string) {
    this.#log = log
    this.#id = id
  }

  send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): void {
    this.#assertOpen()
    this.#log.partitionsOf(topic)
    this.#sends.push({ topic, records: Array.isArray(records) ? records : [records as ProducerRecord] })
  }

  commitOffsets(
    group: string,
    offsets: readonly TopicPartitionOffset[],
    _options?: { generation?: number },
  ): void {
    this.#assertOpen()
    for (const o of offsets) {
      this.#log.partition(o)
      this.#offsets.push({ group, ...o })
    }
  }

  /**
   * Adds a write (puts and removes) that joins the commit's LMDB transaction, for state
   * stores. It runs during `commit()`, which serializes the values it puts; reads in it see
   * the last committed state, not this transaction's writes.
   */
  addWrite(write: () => void): void {
    this.#assertOpen()
    this.#writes.push(write)
  }

  async commit(): Promise<Map<string, RecordMetadata[]>> {
    this.#assertOpen()
    this.#state = 'committing'
    try {
      // Validate everything before staging: a bad record aborts the whole transaction.
      const plan: Array<{
        topic: string
        part: PartitionState
        records: ProducerRecord[]
        sizes: number[]
        results: RecordMetadata[]
      }> = []
      const results = new Map<string, RecordMetadata[]>()
      for (const { topic, records } of this.#sends) {
        const parts = this.#log.partitionsOf(topic)
        // Measured once: the sizes both validate the records and size the batches.
        const measured = this.#log.measure(parts[0]!, records)
        const perPartition = new Map<
          PartitionState,
          { records: ProducerRecord[]; sizes: number[]; results: RecordMetadata[] }
        >()
        const topicResults = results.get(topic) ?? []
        results.set(topic, topicResults)
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!
          const p = r.partition ?? this.#partitioner.partition(r.key, parts.length)
          const part = parts[p]
          if (!part) {
            throw new SluiceError('SLUICE_INVALID_ARGUMENT', `topic "${topic}" has no partition ${p}`)
          }
          let group = perPartition.get(part)
          if (!group) {
            group = { records: [], sizes: [], results: [] }
            perPartition.set(part, group)
          }
          const meta = { partition: p, offset: -1 }
          group.records.push(r)
          group.sizes.push(measured[i]!)
          group.results.push(meta)
          topicResults.push(meta)
        }
        for (const [part, g] of perPartition) plan.push({ topic, part, ...g })
      }
      const sized = plan.map((p) => ({ ...p, sizes: Uint32Array.from(p.sizes) }))
      let bytes = 0
      for (const { sizes } of sized) for (let i = 0; i < sizes.length; i++) bytes += sizes[i]!
      const reserved = await this.#log.reserve(bytes)
      // From here to commit() there is no await: offsets are handed out in commit order.
      const appends: StagedAppend[] = []
      for (const { part, records, sizes, results: metas } of sized) {
        const first = part.nextOffset
        this.#log.stage(part, records, sizes, appends)
        for (let j = 0; j < metas.length; j++) metas[j]!.offset = first + j
      }
      const staged: StagedCommit = { appends, offsets: this.#offsets, writes: this.#writes }
      await this.#log.commit(staged, reserved)
      this.#state = 'committed'
      return results
    } catch (error) {
      this.#state = 'aborted'
      throw error
    }
  }

  abort(): void {
    if (this.#state === 'committing') {
      throw new SluiceError(
        'SLUICE_TRANSACTION_STATE',
        `transaction "${this.#id}" is committing and cannot be aborted`,
      )
    }
    this.#state = 'aborted'
    this.#sends = []
    this.#offsets = []
    this.#writes = []
  }

  #assertOpen(): void {
    if (this.#state !== 'open') {
      throw new SluiceError(
        'SLUICE_TRANSACTION_STATE',
        `transaction "${this.#id}" is ${this.#state}; start a new transaction with log.transaction()`,
      )
    }
  }
}
