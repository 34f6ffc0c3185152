import { SluiceError } from '../../errors.ts'
import { Partitioner } from '../partitioner.ts'
import type {
  ProducerRecord,
  RecordMetadata,
  TopicPartitionOffset,
  Transaction,
  TransactionOptions,
} from '../types.ts'
import type { EmbeddedLog, Encoded, StagedAppend, StagedCommit } from './embedded-log.ts'
import type { RecordFrames } from './frames.ts'

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
  #frames: Array<{ topic: string; frames: RecordFrames }> = []
  #offsets: Array<{ group: string } & TopicPartitionOffset> = []
  #writes: Array<() => void> = []
  #state: State = 'open'
  readonly #metadata: boolean

  constructor(log: EmbeddedLog, options: TransactionOptions) {
    this.#log = log
    this.#id = options.id
    this.#metadata = options.metadata !== false
  }

  send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): void {
    this.#assertOpen()
    this.#log.partitionsOf(topic)
    this.#sends.push({ topic, records: Array.isArray(records) ? records : [records as ProducerRecord] })
  }

  /**
   * Appends records a FrameWriter wrote in the batch format (frames.ts) to a topic of one
   * partition: they become batches as they lie, with no copy (the engine's sinks).
   */
  sendFrames(topic: string, frames: RecordFrames): void {
    this.#assertOpen()
    const parts = this.#log.partitionsOf(topic)
    if (parts.length !== 1) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `topic "${topic}" has ${parts.length} partitions; framed records go to a topic of one`,
      )
    }
    if (frames.count > 0) this.#frames.push({ topic, frames })
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
      // Encode (and so validate) everything before taking offsets: a bad record aborts the
      // whole transaction, and nothing is staged.
      const results = new Map<string, RecordMetadata[]>()
      const encoded: Encoded[] = []
      /** Per entry of `encoded`, its records' metadata, offsets filled in once staged. */
      const metas: Array<RecordMetadata[] | null> = []
      for (const { topic, records } of this.#sends) {
        const parts = this.#log.partitionsOf(topic)
        let topicResults = results.get(topic)
        if (this.#metadata && !topicResults) {
          topicResults = []
          results.set(topic, topicResults)
        }
        if (parts.length === 1 && records.every((r) => !r.partition)) {
          // The common case (one partition, none named): the records as they are.
          encoded.push(this.#log.encode(parts[0]!, records))
          metas.push(topicResults ? partitionMetas(topicResults, records.length) : null)
          continue
        }
        const groups: Array<{ records: ProducerRecord[]; indices: number[]; metas: RecordMetadata[] }> = []
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!
          const p = r.partition ?? this.#partitioner.partition(r.key, parts.length)
          if (!parts[p]) {
            throw new SluiceError('SLUICE_INVALID_ARGUMENT', `topic "${topic}" has no partition ${p}`)
          }
          let group = groups[p]
          if (!group) {
            group = { records: [], indices: [], metas: [] }
            groups[p] = group
          }
          group.records.push(r)
          group.indices.push(i)
          if (topicResults) {
            const meta = { partition: p, offset: -1 }
            group.metas.push(meta)
            topicResults.push(meta)
          }
        }
        groups.forEach((g, p) => {
          encoded.push(this.#log.encode(parts[p]!, g.records, g.indices))
          metas.push(topicResults ? g.metas : null)
        })
      }
      for (const { topic, frames } of this.#frames) {
        encoded.push(this.#log.encodeFrames(this.#log.partitionsOf(topic)[0]!, frames))
        if (!this.#metadata) {
          metas.push(null)
          continue
        }
        let topicResults = results.get(topic)
        if (!topicResults) {
          topicResults = []
          results.set(topic, topicResults)
        }
        metas.push(partitionMetas(topicResults, frames.count))
      }
      let bytes = 0
      for (const e of encoded) bytes += e.bytes
      const reserved = await this.#log.reserve(bytes)
      // From here to commit() there is no await: offsets are handed out in commit order.
      const appends: StagedAppend[] = []
      for (let i = 0; i < encoded.length; i++) {
        const first = encoded[i]!.part.nextOffset
        this.#log.stageEncoded(encoded[i]!, appends)
        const own = metas[i]
        if (own) for (let j = 0; j < own.length; j++) own[j]!.offset = first + j
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
    this.#frames = []
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

/** Metadata for `n` records to partition 0, added to the topic's results; offsets come at staging. */
function partitionMetas(topicResults: RecordMetadata[], n: number): RecordMetadata[] {
  const own: RecordMetadata[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const meta = { partition: 0, offset: -1 }
    own[i] = meta
    topicResults.push(meta)
  }
  return own
}
