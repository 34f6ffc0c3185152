import {
  type API,
  addPartitionsToTxnV3,
  type Callback,
  compatibilityPartitioner,
  Producer as KafkaClientProducer,
  kGetApi,
  ProduceAcks,
} from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import type { Partitioner } from '../partitioner.ts'
import type { Producer, ProducerOptions, ProducerRecord, RecordMetadata } from '../types.ts'
import type { KafkaAdmin } from './admin.ts'
import { clientOptions } from './options.ts'
import { type KafkaMessage, offsetsOf, RequestTimestamps, recordBytes, toKafkaMessage } from './records.ts'

/** How long the producer trusts a topic's cached settings (compaction, max record size). */
const SETTINGS_MAX_AGE_MS = 30_000

export type BufferProducer = KafkaClientProducer<Buffer, Buffer, Buffer, Buffer>

/**
 * A Kafka client producer as Sluice uses it: idempotent (acks=all, sequence numbers, so a
 * retried batch is written once), and Kafka's own murmur2 partitioner — the client's default
 * hashes differently and would put about half the keys on other partitions than Java clients
 * and the embedded log. Sluice picks partitions itself anyway (it must know them to answer
 * per-record metadata); the partitioner is the client's fallback.
 */
export function createClientProducer(
  admin: KafkaAdmin,
  role: string,
  transactionalId?: string,
): BufferProducer {
  const base = clientOptions(admin.options, role)
  const producer = new KafkaClientProducer<Buffer, Buffer, Buffer, Buffer>({
    ...base,
    // Idempotence makes the client's retries safe; a failover takes longer than three quick tries.
    retries: Math.max(admin.options.retries, 10),
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: compatibilityPartitioner,
    // InitProducerId for a transactional id: producer id -1 asks for the id's producer with a
    // bumped epoch, fencing older instances. The client's default (0, epoch 0) claims to BE
    // producer 0 and is refused as fenced once another instance holds the id.
    ...(transactionalId === undefined ? {} : { transactionalId, producerId: -1n, producerEpoch: -1 }),
  })
  if (transactionalId !== undefined) useClientAddPartitionsToTxn(producer)
  return producer
}

/**
 * AddPartitionsToTxn v4 and later are the brokers' own (KIP-890: a partition leader checks with
 * the transaction coordinator), and a broker authorizes them as ClusterAction, which only
 * brokers and super users hold. The client sends the newest version the broker offers, so the
 * transactions of every other principal failed with CLUSTER_AUTHORIZATION_FAILED (seen in
 * test/integration/kafka/kafka-security.test.ts). Clients are to send v3, as the Java producer
 * does; v3 takes the same request.
 */
function useClientAddPartitionsToTxn(producer: BufferProducer): void {
  const getApi = producer[kGetApi].bind(producer)
  const v3 = addPartitionsToTxnV3.api as API<unknown[], unknown>
  const patched = (name: string, callback: Callback<API<unknown[], unknown>>): void => {
    if (name === 'AddPartitionsToTxn') {
      getApi<unknown[], unknown>(name, (error, api) => callback(error, api && api.version > 3 ? v3 : api))
    } else {
      getApi(name, callback)
    }
  }
  Object.defineProperty(producer, kGetApi, { value: patched, configurable: true, writable: true })
}

/**
 * Checks records against the topic (as the embedded log does: a rejected send writes nothing)
 * and picks each one's partition: the explicit one, else murmur2 of the key, else round-robin.
 */
export async function toMessages(
  admin: KafkaAdmin,
  partitioner: Partitioner,
  topic: string,
  records: readonly ProducerRecord[],
): Promise<{ messages: KafkaMessage[]; sizes: number[] }> {
  const info = await admin.topic(topic, false, 'Write')
  const settings = await admin.sendLimits(topic, SETTINGS_MAX_AGE_MS)
  const messages = new Array<KafkaMessage>(records.length)
  const sizes = new Array<number>(records.length)
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    if (settings.compact && r.key == null) {
      throw new SluiceError(
        'SLUICE_INVALID_INPUT',
        `record ${i} for compacted topic "${topic}" has no key; compaction keeps the latest value per key, so every record needs one`,
      )
    }
    const size = recordBytes(r)
    if (size > settings.maxRecordBytes) {
      throw new SluiceError(
        'SLUICE_RECORD_TOO_LARGE',
        `record ${i} for topic "${topic}" is ${size} bytes; the topic accepts at most ${settings.maxRecordBytes}. ` +
          'Make the record smaller, or create the topic with a larger maxRecordBytes (max.message.bytes).',
      )
    }
    const p = r.partition ?? partitioner.partition(r.key, info.partitions)
    if (!Number.isInteger(p) || p < 0 || p >= info.partitions) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `record ${i} asks for partition ${p} of topic "${topic}", which has partitions 0..${info.partitions - 1}`,
      )
    }
    messages[i] = toKafkaMessage(topic, p, r)
    sizes[i] = size
  }
  return { messages, sizes }
}

/** Records waiting for their produce request: until `lingerMs` passes or `batchBytes` is reached. */
interface Batch {
  messages: KafkaMessage[]
  bytes: number
  timestamps: RequestTimestamps
  timer: NodeJS.Timeout | null
  /** Settles with the metadata of `messages`, in order, once the request is acknowledged. */
  done: Promise<RecordMetadata[]>
  resolve: (metadata: RecordMetadata[]) => void
  reject: (error: Error) => void
}

/** The records `from .. from + count - 1` of a batch belong to one send. */
interface Part {
  batch: Batch
  from: number
  count: number
}

/** Bytes a record costs in a batch beyond its key, value and headers (length, deltas, attributes). */
const RECORD_OVERHEAD = 64

/**
 * `log.producer()` on Kafka. Records from concurrent `send` calls are collected into one produce
 * request per `lingerMs` (or per `batchBytes`), and requests go out one after another: the
 * idempotent client allows one in flight per broker anyway, and in-order requests keep
 * Kafka's per-partition sequence numbers in order.
 *
 * Kafka's idempotence lasts as long as the producer: it dedupes the client's retries, not a
 * resend after a restart. `id` only names the client; cross-restart exactly-once needs
 * `log.transaction()`.
 */
export class KafkaProducer implements Producer {
  readonly #admin: KafkaAdmin
  readonly #client: BufferProducer
  readonly #partitioner: Partitioner
  readonly #lingerMs: number
  readonly #batchBytes: number
  readonly #maxBufferedBytes: number
  readonly #onClose: () => void
  #batch: Batch | null = null
  /** Sends in call order: each joins the batches after the previous one has. */
  #admission: Promise<unknown> = Promise.resolve()
  /** The chain of produce requests: each starts when the previous has been answered. */
  #queue: Promise<unknown> = Promise.resolve()
  #buffered = 0
  #drainWaiters: Array<() => void> = []
  #closed = false

  constructor(admin: KafkaAdmin, partitioner: Partitioner, options: ProducerOptions, onClose: () => void) {
    this.#admin = admin
    this.#partitioner = partitioner
    this.#lingerMs = options.lingerMs ?? 1
    this.#batchBytes = options.batchBytes ?? 256 * 1024
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 32 * 1024 * 1024
    this.#onClose = onClose
    this.#client = createClientProducer(
      admin,
      options.id === undefined ? 'producer' : `producer-${options.id}`,
    )
  }

  async send(topic: string, input: ProducerRecord | readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    this.#assertOpen()
    const records = Array.isArray(input) ? (input as readonly ProducerRecord[]) : [input as ProducerRecord]
    if (records.length === 0) return []
    // Sends join batches in call order, so one producer's records keep their order per partition
    // even when a send waits for metadata or for buffer space.
    const joined = this.#admission.then(() => this.#join(topic, records))
    this.#admission = joined.catch(() => {})
    const parts = await joined
    const out: RecordMetadata[] = []
    for (const { batch, from, count } of parts) {
      const metadata = await batch.done
      for (let i = from; i < from + count; i++) out.push(metadata[i]!)
    }
    return out
  }

  async #join(topic: string, records: readonly ProducerRecord[]): Promise<Part[]> {
    const { messages, sizes } = await toMessages(this.#admin, this.#partitioner, topic, records)
    while (this.#buffered >= this.#maxBufferedBytes) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve))
      this.#assertOpen()
    }
    // Each record joins the open batch; a batch that reaches `batchBytes` goes out at once, so
    // no produce request carries much more than that (Kafka caps a partition's batch at
    // max.message.bytes, 1 MiB by default).
    const parts: Part[] = []
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!
      const size = sizes[i]! + RECORD_OVERHEAD
      let batch = this.#batch
      const full = batch !== null && batch.bytes + size > this.#batchBytes
      if (batch && batch.messages.length > 0 && (full || !batch.timestamps.admits(message))) {
        this.#flush(batch)
        batch = null
      }
      batch ??= this.#newBatch()
      const last = parts[parts.length - 1]
      if (last?.batch === batch) last.count++
      else parts.push({ batch, from: batch.messages.length, count: 1 })
      batch.messages.push(message)
      batch.timestamps.add(message)
      batch.bytes += size
      this.#buffered += size
    }
    return parts
  }

  #newBatch(): Batch {
    let resolve!: (metadata: RecordMetadata[]) => void
    let reject!: (error: Error) => void
    const done = new Promise<RecordMetadata[]>((res, rej) => {
      resolve = res
      reject = rej
    })
    done.catch(() => {})
    const batch: Batch = {
      messages: [],
      bytes: 0,
      timestamps: new RequestTimestamps(),
      timer: null,
      done,
      resolve,
      reject,
    }
    batch.timer = setTimeout(() => this.#flush(batch), this.#lingerMs)
    this.#batch = batch
    return batch
  }

  #flush(batch: Batch): void {
    if (this.#batch === batch) this.#batch = null
    if (batch.timer) clearTimeout(batch.timer)
    batch.timer = null
    const request = this.#queue.then(async () => {
      try {
        const result = await this.#client.send({ messages: batch.messages })
        batch.resolve(offsetsOf(batch.messages, result.offsets ?? []))
      } catch (error) {
        const topic = batch.messages[0]?.topic
        batch.reject(
          this.#admin.error(error, `send to topic "${topic}"`, {
            ...(topic === undefined ? {} : { topic }),
            operation: 'Write',
          }),
        )
      } finally {
        this.#buffered -= batch.bytes
        const waiters = this.#drainWaiters
        this.#drainWaiters = []
        for (const w of waiters) w()
      }
    })
    this.#queue = request
  }

  async flush(): Promise<void> {
    // Sends still checking their records join a batch first; then the open batch goes out.
    await this.#admission
    if (this.#batch) this.#flush(this.#batch)
    await this.#queue
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    this.#onClose()
    await this.#client.close().catch(() => {})
  }

  #assertOpen(): void {
    if (this.#closed) throw new SluiceError('SLUICE_LOG_CLOSED', 'this producer is closed; create a new one')
  }
}
