import type { fetchV17, MessageToProduce, RecordsBatch } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import { type Bytes, byteLengthOf } from '../bytes.ts'
import type { Headers, LogRecord, ProducerRecord, RecordMetadata, TopicPartition } from '../types.ts'

/** A message as the Kafka client takes it: everything already bytes (no serializers). */
export type KafkaMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>

// Record batch attributes (Kafka's record batch format v2).
const TIMESTAMP_LOG_APPEND_TIME = 0x08
const TRANSACTIONAL = 0x10
const CONTROL = 0x20
/** Control record type in the key of a control batch: 0 = abort marker, 1 = commit marker. */
const ABORT_MARKER = 0

const encoder = new TextEncoder()

/** A view of the same bytes, not a copy. */
export function toBuffer(bytes: Bytes): Buffer {
  if (typeof bytes === 'string') return Buffer.from(bytes)
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Bytes a record adds to a batch, close enough to check against `max.message.bytes` early. */
export function recordBytes(record: ProducerRecord): number {
  let size = byteLengthOf(record.key) + byteLengthOf(record.value)
  if (record.headers) {
    for (const name in record.headers)
      size += Buffer.byteLength(name) + Buffer.byteLength(record.headers[name]!)
  }
  return size
}

export function toKafkaMessage(topic: string, partition: number, record: ProducerRecord): KafkaMessage {
  const message: KafkaMessage = { topic, partition }
  if (record.key != null) message.key = toBuffer(record.key)
  // A null value must reach the wire as a null value (a tombstone), not as empty bytes.
  if (record.value != null) message.value = toBuffer(record.value)
  // Set here, not left to the client at request time, so that RequestTimestamps sees it.
  message.timestamp = BigInt(Math.trunc(record.timestamp ?? Date.now()))
  if (record.headers) {
    // Header names and values go as bytes: the client's default header serializer only passes
    // Buffers through (a string there makes the send hang instead of failing).
    const headers = new Map<Buffer, Buffer>()
    for (const name in record.headers) {
      headers.set(Buffer.from(encoder.encode(name)), Buffer.from(encoder.encode(record.headers[name]!)))
    }
    message.headers = headers
  }
  return message
}

/** Largest timestamp distance the client encodes right within one batch (see RequestTimestamps). */
const MAX_TIMESTAMP_DELTA = 2n ** 31n - 1n

/**
 * Guards a produce request against a client bug: @platformatic/kafka (2.12) zigzag-encodes a
 * record's 64-bit timestamp delta with a 32-bit sign shift, so a record whose timestamp is
 * 2^31 ms (about 24.8 days) or more away from the first timestamp of its batch is written
 * with a wrong timestamp — wrong for every reader, Java clients included. A request holds one
 * batch per partition, so such records must go in separate requests.
 */
export class RequestTimestamps {
  readonly #first = new Map<string, bigint>()

  /** False when `message` cannot share this request with the records already in it. */
  admits(message: KafkaMessage): boolean {
    const first = this.#first.get(`${message.topic}\0${message.partition}`)
    if (first === undefined || message.timestamp === undefined) return true
    const delta = message.timestamp - first
    return delta <= MAX_TIMESTAMP_DELTA && delta >= -MAX_TIMESTAMP_DELTA
  }

  add(message: KafkaMessage): void {
    const key = `${message.topic}\0${message.partition}`
    if (!this.#first.has(key) && message.timestamp !== undefined) this.#first.set(key, message.timestamp)
  }
}

/** What one partition of a fetch response yields once read under read_committed. */
export interface CommittedRecords {
  records: LogRecord[]
  /**
   * The offset to fetch next: past the last record returned, and past any control records or
   * aborted records that followed it, so a reader never stalls on a transaction marker.
   */
  nextOffset: number
}

/**
 * Reads the record batches of one partition as a read_committed consumer must: control
 * batches (transaction markers) are never data, and a transactional batch is dropped when its
 * producer's transaction was aborted. The broker only says which transactions in the range
 * were aborted (producer id + first offset); the client tracks them batch by batch, as
 * Kafka's own consumer does: a producer enters the aborted set when its aborted transaction's
 * first offset is reached, and leaves it at its abort marker. The same producer can abort
 * several transactions in one response, so this is a queue by first offset, not a map.
 */
export function committedRecords(
  tp: TopicPartition,
  batches: readonly RecordsBatch[],
  aborted: readonly fetchV17.FetchResponsePartitionAbortedTransaction[] | null,
  fromOffset: number,
  maxRecords: number,
): CommittedRecords {
  if (maxRecords <= 0) return { records: [], nextOffset: fromOffset }
  const pending = aborted ? [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1)) : []
  const abortedProducers = new Set<bigint>()
  const records: LogRecord[] = []
  let nextOffset = fromOffset
  const from = BigInt(fromOffset)
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta)
    if (lastOffset < from) continue
    if (batch.attributes & TRANSACTIONAL) {
      while (pending.length > 0 && pending[0]!.firstOffset <= lastOffset) {
        abortedProducers.add(pending.shift()!.producerId)
      }
    }
    if (batch.attributes & CONTROL) {
      const key = batch.records[0]?.key
      if (key && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER)
        abortedProducers.delete(batch.producerId)
      nextOffset = Number(lastOffset) + 1
      continue
    }
    if (batch.attributes & TRANSACTIONAL && abortedProducers.has(batch.producerId)) {
      nextOffset = Number(lastOffset) + 1
      continue
    }
    const logAppendTime = (batch.attributes & TIMESTAMP_LOG_APPEND_TIME) !== 0
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta)
      if (offset < from) continue
      records.push({
        topic: tp.topic,
        partition: tp.partition,
        offset: Number(offset),
        timestamp: Number(logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
        key: record.key,
        value: record.value,
        headers: toHeaders(record.headers),
      })
      if (records.length >= maxRecords) return { records, nextOffset: Number(offset) + 1 }
    }
    nextOffset = Number(lastOffset) + 1
  }
  return { records, nextOffset }
}

function toHeaders(headers: readonly [Buffer | null, Buffer | null][]): Headers {
  const out: Headers = {}
  for (const [name, value] of headers) {
    if (name) out[name.toString('utf8')] = value ? value.toString('utf8') : ''
  }
  return out
}

/**
 * Per-record metadata for one produce request. The broker acknowledges each partition's batch
 * with its base offset; the request carried each partition's records in the order of
 * `messages`, so the n-th record of a partition got the base offset + n.
 */
export function offsetsOf(
  messages: readonly KafkaMessage[],
  acknowledged: readonly { topic: string; partition: number; offset: bigint }[],
): RecordMetadata[] {
  const next = new Map<string, number>()
  for (const a of acknowledged) next.set(`${a.topic}\0${a.partition}`, Number(a.offset))
  const out = new Array<RecordMetadata>(messages.length)
  for (let i = 0; i < messages.length; i++) {
    const { topic, partition } = messages[i]!
    const key = `${topic}\0${partition}`
    const offset = next.get(key)
    if (offset === undefined) {
      throw new SluiceError(
        'SLUICE_KAFKA_ERROR',
        `Kafka acknowledged the send without an offset for topic "${topic}" partition ${partition}`,
      )
    }
    out[i] = { partition: partition!, offset }
    next.set(key, offset + 1)
  }
  return out
}
