import { SluiceError } from '../../errors.ts'
import { Partitioner } from '../partitioner.ts'
import type {
  ConsumerOptions,
  FetchOptions,
  Log,
  LogRecord,
  OffsetSpec,
  Producer,
  ProducerOptions,
  TopicConfig,
  TopicDescription,
  TopicPartition,
  TopicPartitionOffset,
  Transaction,
  TransactionOptions,
} from '../types.ts'
import { KafkaAdmin } from './admin.ts'
import { type GroupMembership, KafkaConsumer } from './consumer.ts'
import { Fetcher } from './fetch.ts'
import { commitOffsetsAsAdmin, committedOffsets, listOffsets, resolveOffset } from './offsets.ts'
import { type KafkaLogOptions, resolveOptions } from './options.ts'
import { type BufferProducer, createClientProducer, KafkaProducer } from './producer.ts'
import { KafkaTransaction } from './transaction.ts'

/**
 * The Kafka backend of the `Log` interface. The hub: it owns the clients (one Admin for topics
 * and offsets, fetch connections, a client per producer and consumer, a transactional producer
 * per transaction id) and closes them all on `close()`.
 */
export class KafkaLog implements Log {
  readonly backend = 'kafka' as const
  readonly brokers: readonly string[]
  readonly #admin: KafkaAdmin
  readonly #fetcher: Fetcher
  readonly #producers = new Set<KafkaProducer>()
  readonly #consumers = new Set<KafkaConsumer>()
  readonly #txProducers = new Map<string, BufferProducer>()
  /** Per transaction id, the tail of its transactions: they run one at a time. */
  readonly #txQueues = new Map<string, Promise<unknown>>()
  #closed = false

  /** Connects (fails fast with SLUICE_BROKER_UNAVAILABLE when no broker answers). */
  static async open(options: KafkaLogOptions): Promise<KafkaLog> {
    const log = new KafkaLog(options)
    try {
      await log.#admin.connect()
    } catch (error) {
      await log.close()
      throw error
    }
    return log
  }

  private constructor(options: KafkaLogOptions) {
    const resolved = resolveOptions(options)
    this.brokers = resolved.brokers
    this.#admin = new KafkaAdmin(resolved)
    this.#fetcher = new Fetcher(this.#admin)
  }

  // ---------------------------------------------------------------- topics

  async createTopic(name: string, config: TopicConfig): Promise<TopicDescription> {
    this.#assertOpen()
    await this.#admin.createTopic(name, config)
    return this.describeTopic(name)
  }

  async deleteTopic(name: string): Promise<void> {
    this.#assertOpen()
    await this.#admin.deleteTopic(name)
  }

  async listTopics(): Promise<string[]> {
    this.#assertOpen()
    return this.#admin.listTopics()
  }

  /** Partition `bytes` and `batches` are 0: Kafka does not report them through these APIs. */
  async describeTopic(name: string): Promise<TopicDescription> {
    this.#assertOpen()
    return this.#admin.describeTopic(name, (tps, timestamp, readCommitted) =>
      listOffsets(this.#admin, tps, timestamp, readCommitted),
    )
  }

  async hasTopic(name: string): Promise<boolean> {
    this.#assertOpen()
    return this.#admin.hasTopic(name)
  }

  // ---------------------------------------------------------------- writing

  producer(options: ProducerOptions = {}): Producer {
    this.#assertOpen()
    const producer: KafkaProducer = new KafkaProducer(this.#admin, new Partitioner(), options, () =>
      this.#producers.delete(producer),
    )
    this.#producers.add(producer)
    return producer
  }

  transaction(options: TransactionOptions): Transaction {
    this.#assertOpen()
    return new KafkaTransaction(
      {
        admin: this.#admin,
        withProducer: (id, work) => this.#withTxProducer(id, work),
        discardProducer: (id) => this.#discardTxProducer(id),
        membership: (group, offsets) => this.#membership(group, offsets),
      },
      options.id,
    )
  }

  #withTxProducer<T>(id: string, work: (producer: BufferProducer) => Promise<T>): Promise<T> {
    const run = (this.#txQueues.get(id) ?? Promise.resolve()).then(() => {
      this.#assertOpen()
      let producer = this.#txProducers.get(id)
      if (!producer) {
        producer = createClientProducer(this.#admin, `tx-${id}`, id)
        this.#txProducers.set(id, producer)
      }
      return work(producer)
    })
    const tail = run.catch(() => {})
    this.#txQueues.set(id, tail)
    void tail.then(() => {
      if (this.#txQueues.get(id) === tail) this.#txQueues.delete(id)
    })
    return run
  }

  async #discardTxProducer(id: string): Promise<void> {
    const producer = this.#txProducers.get(id)
    this.#txProducers.delete(id)
    await producer?.close(true).catch(() => {})
  }

  // ---------------------------------------------------------------- reading

  /**
   * A direct Fetch of one partition, read_committed: records of aborted transactions and the
   * transaction markers are skipped (markers take offsets, so offsets can have gaps). With
   * `waitMs`, the broker holds the request until a record is committed, up to `waitMs`.
   */
  async fetch(tp: TopicPartition, offset: number, options: FetchOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen()
    await this.#admin.partition(tp, 'Read')
    if (!Number.isInteger(offset) || offset < 0) {
      throw new SluiceError(
        'SLUICE_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside topic "${tp.topic}" partition ${tp.partition}; read from earliest or latest instead`,
      )
    }
    const deadline = Date.now() + (options.waitMs ?? 0)
    for (;;) {
      const [result] = await this.#fetcher.read([{ tp, offset }], {
        waitMs: Math.max(0, deadline - Date.now()),
        maxBytes: options.maxBytes ?? 16 * 1024 * 1024,
        maxRecords: options.maxRecords ?? 10_000,
      })
      if (this.#closed || !result) return []
      if (result.error) throw result.error
      if (result.records.length > 0) return result.records
      // Only markers or aborted records: look past them at once, whatever the wait. Returning
      // [] here would tell the caller "nothing more", and a reader that stops on an empty read
      // (a changelog restore, a reader going to the end) would miss everything behind an
      // aborted transaction — seen in the scale-out test as whole partitions missing.
      if (result.nextOffset <= offset) return []
      offset = result.nextOffset
    }
  }

  async resolveOffset(tp: TopicPartition, spec: OffsetSpec): Promise<number> {
    this.#assertOpen()
    return resolveOffset(this.#admin, tp, spec)
  }

  consumer(options: ConsumerOptions): KafkaConsumer {
    this.#assertOpen()
    const consumer = new KafkaConsumer(
      {
        admin: this.#admin,
        fetcher: this.#fetcher,
        committedOffsets: (group, topic) => this.committedOffsets(group, topic),
        resolveOffset: (tp, spec) => this.resolveOffset(tp, spec),
        onClose: (c) => this.#consumers.delete(c),
      },
      options,
    )
    this.#consumers.add(consumer)
    return consumer
  }

  // ---------------------------------------------------------------- groups

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    this.#assertOpen()
    return committedOffsets(this.#admin, group, topic)
  }

  /**
   * Through a member of the group in this log when there is one (OffsetCommit in its
   * generation); else as an admin (generation -1), which Kafka allows only for a group
   * without live members.
   */
  async deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<void> {
    this.#assertOpen()
    await this.#admin.deleteRecordsBefore(tp, offset)
  }

  async commitOffsets(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.#assertOpen()
    if (offsets.length === 0) return
    for (const o of offsets) await this.#admin.partition(o, 'Read')
    const member = this.#member(group, offsets)
    if (member) await member.commitOffsets(offsets)
    else await commitOffsetsAsAdmin(this.#admin, group, offsets)
  }

  /** A joined member of `group` in this log, preferably one that owns the first partition. */
  #member(group: string, offsets: readonly TopicPartitionOffset[]): KafkaConsumer | null {
    const members = [...this.#consumers].filter((c) => c.group === group && c.membership() !== null)
    const first = offsets[0]
    return (first && members.find((c) => c.owns(first))) || members[0] || null
  }

  #membership(group: string, offsets: readonly TopicPartitionOffset[]): GroupMembership | null {
    return this.#member(group, offsets)?.membership() ?? null
  }

  // ---------------------------------------------------------------- upkeep

  #assertOpen(): void {
    if (this.#closed) {
      throw new SluiceError('SLUICE_LOG_CLOSED', `the Kafka log at ${this.brokers.join(',')} is closed`)
    }
  }

  /** Leaves consumer groups, flushes producers, and closes every client and connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    await Promise.allSettled([...this.#consumers].map((c) => c.close()))
    await Promise.allSettled([...this.#producers].map((p) => p.close()))
    await Promise.allSettled([...this.#txQueues.values()])
    this.#closed = true
    await Promise.allSettled([...this.#txProducers.values()].map((p) => p.close(true)))
    this.#txProducers.clear()
    await this.#fetcher.close()
    await this.#admin.close().catch(() => {})
  }
}

/**
 * Opens the Kafka backend. Fails within seconds, with SLUICE_BROKER_UNAVAILABLE, when no broker
 * answers at `brokers`.
 *
 * @example
 * const log = await openKafkaLog({ brokers: ['127.0.0.1:9092'] })
 * await log.createTopic('orders', { partitions: 3 })
 * await log.producer().send('orders', { key: new TextEncoder().encode('o-1'), value: null })
 * await log.close()
 */
export function openKafkaLog(options: KafkaLogOptions): Promise<KafkaLog> {
  return KafkaLog.open(options)
}
