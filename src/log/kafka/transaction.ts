import {
  type API,
  type Broker,
  type Connection,
  FindCoordinatorKeyTypes,
  type Consumer as KafkaClientConsumer,
  kGetApi,
  kGetConnection,
  type txnOffsetCommitV4,
} from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import { Partitioner } from '../partitioner.ts'
import type { ProducerRecord, RecordMetadata, TopicPartitionOffset, Transaction } from '../types.ts'
import type { ErrorAbout, KafkaAdmin } from './admin.ts'
import type { GroupMembership } from './consumer.ts'
import { kafkaErrorIds } from './errors.ts'
import type { BufferProducer } from './producer.ts'
import { toMessages } from './producer.ts'
import { type KafkaMessage, offsetsOf, RequestTimestamps } from './records.ts'

type TxnOffsetCommitApi = API<
  txnOffsetCommitV4.TxnOffsetCommitRequest,
  txnOffsetCommitV4.TxnOffsetCommitResponse
>

/** What a transaction needs from its log. */
export interface TransactionDeps {
  admin: KafkaAdmin
  /**
   * Runs `work` with the transactional producer of `id`, one transaction at a time per id:
   * the producer is created on first use and kept, so its InitProducerId (which fences older
   * instances) runs once, not per transaction.
   */
  withProducer<T>(id: string, work: (producer: BufferProducer) => Promise<T>): Promise<T>
  /** Drops a fenced producer: the next transaction with the id starts a new one. */
  discardProducer(id: string): Promise<void>
  /** A live member of `group` in this log that owns the partitions, if there is one. */
  membership(group: string, offsets: readonly TopicPartitionOffset[]): GroupMembership | null
}

type State = 'open' | 'committing' | 'committed' | 'aborted'

/** Most bytes of records per produce request in a transaction (a partition's batch must fit max.message.bytes). */
const REQUEST_BYTES = 256 * 1024
/** Group-coordinator answers that mean "ask again (maybe elsewhere)". */
const RETRIABLE = [
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'CONCURRENT_TRANSACTIONS',
  'REQUEST_TIMED_OUT',
]

/**
 * A Kafka transaction. `send` and `commitOffsets` only buffer; `commit` runs the whole Kafka
 * transaction in one go, so nothing is written for a transaction that is aborted before it:
 *
 * 1. Check every record (topic limits, partitions) before anything is sent: a bad record
 *    aborts the transaction with nothing begun.
 * 2. Begin a transaction on the id's producer (its epoch fences any older producer of the id).
 * 3. Produce the records, in requests of at most 256 KiB; AddPartitionsToTxn registers each
 *    partition with the transaction coordinator first.
 * 4. Per consumer group: AddOffsetsToTxn, then one TxnOffsetCommit with all its partitions —
 *    with the member's generation when a consumer of this log is in the group (KIP-447: the
 *    commit of a member that was rebalanced out is refused), else without a member (generation
 *    -1), which Kafka accepts for any group, as for the engine committing its own positions.
 * 5. EndTxn(commit): the coordinator writes commit markers to every partition and to the
 *    offsets topic; read_committed readers see the records and the group sees the offsets.
 *
 * A failure in 3–5 aborts the Kafka transaction (EndTxn(abort)): read_committed readers skip
 * what was written. A fenced producer (a newer one took the id) is dropped from the log and
 * the error is SLUICE_PRODUCER_FENCED.
 */
export class KafkaTransaction implements Transaction {
  readonly #deps: TransactionDeps
  readonly #id: string
  readonly #partitioner = new Partitioner()
  #sends: Array<{ topic: string; records: readonly ProducerRecord[] }> = []
  #offsets: Array<{ group: string } & TopicPartitionOffset> = []
  /** Per group: the generation its offsets were produced in, when the caller named one. */
  readonly #generations = new Map<string, number>()
  #state: State = 'open'

  constructor(deps: TransactionDeps, id: string) {
    if (!id) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'a transaction needs an id (e.g. { id: "my-app-0" })')
    }
    this.#deps = deps
    this.#id = id
  }

  send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): void {
    this.#assertOpen()
    this.#sends.push({ topic, records: Array.isArray(records) ? records : [records as ProducerRecord] })
  }

  commitOffsets(
    group: string,
    offsets: readonly TopicPartitionOffset[],
    options: { generation?: number } = {},
  ): void {
    this.#assertOpen()
    if (!group) throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'commitOffsets needs a group name')
    if (options.generation !== undefined) this.#generations.set(group, options.generation)
    for (const o of offsets)
      this.#offsets.push({ group, topic: o.topic, partition: o.partition, offset: o.offset })
  }

  async commit(): Promise<Map<string, RecordMetadata[]>> {
    this.#assertOpen()
    this.#state = 'committing'
    try {
      const results = await this.#run()
      this.#state = 'committed'
      return results
    } catch (error) {
      this.#state = 'aborted'
      throw error
    }
  }

  async #run(): Promise<Map<string, RecordMetadata[]>> {
    const { admin } = this.#deps
    // 1.
    const results = new Map<string, RecordMetadata[]>()
    const messages: KafkaMessage[] = []
    const sizes: number[] = []
    const slots: Array<{ topic: string; index: number }> = []
    for (const { topic, records } of this.#sends) {
      const prepared = await toMessages(admin, this.#partitioner, topic, records)
      const list = results.get(topic) ?? []
      results.set(topic, list)
      for (let i = 0; i < prepared.messages.length; i++) {
        messages.push(prepared.messages[i]!)
        sizes.push(prepared.sizes[i]!)
        slots.push({ topic, index: list.length })
        list.push({ partition: prepared.messages[i]!.partition!, offset: -1 })
      }
    }
    for (const o of this.#offsets) await admin.partition(o, 'Read')
    const groups = new Map<string, TopicPartitionOffset[]>()
    for (const { group, ...o } of this.#offsets) {
      const list = groups.get(group) ?? []
      groups.set(group, list)
      list.push(o)
    }
    if (messages.length === 0 && groups.size === 0) return results
    await this.#deps.withProducer(this.#id, async (producer) => {
      let tx: Awaited<ReturnType<BufferProducer['beginTransaction']>> | null = null
      // The topic or group a step works on, for the message (and ACL) of a refused step.
      const about: ErrorAbout = { transactionalId: this.#id, operation: 'Write' }
      try {
        // 2.
        tx = await producer.beginTransaction()
        // 3.
        for (let start = 0; start < messages.length; ) {
          let end = start
          let bytes = 0
          const timestamps = new RequestTimestamps()
          while (
            end < messages.length &&
            (end === start || (bytes + sizes[end]! <= REQUEST_BYTES && timestamps.admits(messages[end]!)))
          ) {
            timestamps.add(messages[end]!)
            bytes += sizes[end++]!
          }
          const chunk = messages.slice(start, end)
          setTopic(about, chunk)
          const sent = await tx.send({ messages: chunk })
          const metadata = offsetsOf(chunk, sent.offsets ?? [])
          for (let i = 0; i < chunk.length; i++) {
            const slot = slots[start + i]!
            results.get(slot.topic)![slot.index] = metadata[i]!
          }
          start = end
        }
        // 4.
        about.operation = 'Read'
        for (const [group, offsets] of groups) {
          about.group = group
          setTopic(about, offsets)
          // addConsumer only reads the group id: it sends AddOffsetsToTxn for that group.
          await tx.addConsumer({ groupId: group } as KafkaClientConsumer<Buffer, Buffer, Buffer, Buffer>)
          await this.#commitGroupOffsets(producer, group, offsets)
        }
        // 5.
        await tx.commit()
      } catch (error) {
        const mapped = admin.error(error, `commit transaction "${this.#id}"`, about)
        if (tx !== null && !tx.completed) await tx.abort().catch(() => {})
        // The next transaction with this id gets a new producer, whatever failed: a fenced
        // producer is dead for good, one whose abort failed still holds the open transaction,
        // and one that saw a broker restart mid-send can keep sequence numbers the broker no
        // longer accepts (OUT_OF_ORDER_SEQUENCE_NUMBER on every later send, seen in tests).
        // A new producer's InitProducerId bumps the epoch and aborts anything left open.
        await this.#deps.discardProducer(this.#id)
        throw mapped
      }
    })
    return results
  }

  /** TxnOffsetCommit for one group, all its partitions in one request, to the group coordinator. */
  async #commitGroupOffsets(
    producer: BufferProducer,
    group: string,
    offsets: readonly TopicPartitionOffset[],
  ): Promise<void> {
    const { admin } = this.#deps
    const producerId = producer.producerId
    const producerEpoch = producer.producerEpoch
    if (producerId === undefined || producerEpoch === undefined) {
      throw new SluiceError('SLUICE_TRANSACTION_STATE', `transaction "${this.#id}" has no producer id yet`)
    }
    const byTopic = new Map<string, txnOffsetCommitV4.TxnOffsetCommitRequestPartition[]>()
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? []
      byTopic.set(o.topic, list)
      list.push({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: -1 })
    }
    const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }))
    const api = await new Promise<TxnOffsetCommitApi>((resolve, reject) =>
      admin.client[kGetApi]<
        txnOffsetCommitV4.TxnOffsetCommitRequest,
        txnOffsetCommitV4.TxnOffsetCommitResponse
      >('TxnOffsetCommit', (error, found) => (error || !found ? reject(error) : resolve(found))),
    )
    const expected = this.#generations.get(group)
    for (let attempt = 0; ; attempt++) {
      const member = this.#deps.membership(group, offsets)
      // The work was done in generation `expected`. The client rejoins in the background, so
      // the member may already be in a later generation that gave these partitions to
      // someone else: committing them now, with the new generation, would be accepted and
      // would overwrite the new owner's start. Send the expected generation instead, and
      // refuse at once when it is known to be over.
      if (expected !== undefined && member && member.generationId !== expected) {
        throw new SluiceError(
          'SLUICE_REBALANCED',
          `cannot commit offsets of group "${group}" in transaction "${this.#id}": the member was ` +
            `rebalanced out of generation ${expected} (now ${member.generationId}) meanwhile`,
        )
      }
      try {
        const coordinator = member ? admin.broker(member.coordinatorId) : await groupCoordinator(admin, group)
        if (!coordinator)
          throw new SluiceError('SLUICE_KAFKA_ERROR', `no coordinator found for group "${group}"`)
        const connection = await new Promise<Connection>((resolve, reject) =>
          admin.client[kGetConnection](coordinator, (error, c) => (error || !c ? reject(error) : resolve(c))),
        )
        await api.async(
          connection,
          this.#id,
          group,
          producerId,
          producerEpoch,
          expected ?? member?.generationId ?? -1,
          member?.memberId ?? '',
          null,
          topics,
        )
        return
      } catch (error) {
        const ids = kafkaErrorIds(error)
        if (attempt < admin.options.retries && RETRIABLE.some((id) => ids.has(id))) {
          await new Promise((resolve) => setTimeout(resolve, admin.options.retryDelayMs))
          continue
        }
        if (ids.has('UNKNOWN_MEMBER_ID') || ids.has('ILLEGAL_GENERATION') || ids.has('FENCED_INSTANCE_ID')) {
          throw new SluiceError(
            'SLUICE_REBALANCED',
            `cannot commit offsets of group "${group}" in transaction "${this.#id}": the member of this log ` +
              'was rebalanced out of the group meanwhile, so its positions may be stale; poll again and ' +
              'commit the positions of the partitions it owns now',
            { cause: error },
          )
        }
        throw error
      }
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

/** Names the topic of `items` in `about` when they are all of one (else a message would guess). */
function setTopic(about: ErrorAbout, items: readonly { topic: string }[]): void {
  const topic = items[0]?.topic
  if (topic !== undefined && items.every((i) => i.topic === topic)) about.topic = topic
  else delete about.topic
}

async function groupCoordinator(admin: KafkaAdmin, group: string): Promise<Broker | undefined> {
  const found = await admin.client.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [group] })
  const c = found.find((f) => f.key === group) ?? found[0]
  return c ? { host: c.host, port: c.port } : undefined
}
