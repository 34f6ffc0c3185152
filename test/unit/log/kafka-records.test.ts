/**
 * The Kafka backend's record conversions, without a broker: read_committed filtering of fetched
 * batches, per-record offsets from produce acknowledgements, and the timestamp guard.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { RecordsBatch } from '@platformatic/kafka'
import {
  committedRecords,
  type KafkaMessage,
  offsetsOf,
  RequestTimestamps,
  toKafkaMessage,
} from '../../../src/log/kafka/records.ts'

const TRANSACTIONAL = 0x10
const CONTROL = 0x20
const LOG_APPEND_TIME = 0x08
const tp = { topic: 't', partition: 0 }

function batch(
  firstOffset: number,
  values: (string | null)[],
  options: { producerId?: number; attributes?: number; timestamp?: number } = {},
): RecordsBatch {
  const timestamp = BigInt(options.timestamp ?? 1000)
  return {
    firstOffset: BigInt(firstOffset),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: options.attributes ?? 0,
    lastOffsetDelta: values.length - 1,
    firstTimestamp: timestamp,
    maxTimestamp: timestamp + 50n,
    producerId: BigInt(options.producerId ?? -1),
    producerEpoch: 0,
    firstSequence: 0,
    records: values.map((v, i) => ({
      length: 0,
      attributes: 0,
      timestampDelta: BigInt(i),
      offsetDelta: i,
      key: v === null ? null : Buffer.from(`k-${v}`),
      value: v === null ? null : Buffer.from(v),
      headers: [[Buffer.from('h'), Buffer.from(`${v}`)]],
    })),
  }
}

/** A transaction marker: a control batch whose one record's key is version 0 + type (0 abort, 1 commit). */
function marker(offset: number, producerId: number, commit: boolean): RecordsBatch {
  const b = batch(offset, ['marker'], { producerId, attributes: TRANSACTIONAL | CONTROL })
  b.records[0]!.key = Buffer.from([0, 0, 0, commit ? 1 : 0])
  return b
}

const tx = (producerId: number) => ({ producerId, attributes: TRANSACTIONAL })
const values = (records: { value: Uint8Array | null }[]) =>
  records.map((r) => (r.value === null ? null : Buffer.from(r.value).toString()))

describe('committedRecords (read_committed)', () => {
  // One producer commits, aborts twice around a non-transactional append, then commits again:
  // the aborted ranges of the same producer must all be skipped, not only the last one.
  const batches = [
    batch(0, ['c1', 'c2'], tx(1)),
    marker(2, 1, true),
    batch(3, ['a1', 'a2'], tx(1)),
    marker(5, 1, false),
    batch(6, ['plain']),
    batch(7, ['a3'], tx(1)),
    marker(8, 1, false),
    batch(9, ['c3'], tx(1)),
    marker(10, 1, true),
  ]
  const aborted = [
    { producerId: 1n, firstOffset: 7n },
    { producerId: 1n, firstOffset: 3n },
  ]

  test('skips aborted transactions and markers, and moves past the last marker', () => {
    const read = committedRecords(tp, batches, aborted, 0, 100)
    assert.deepEqual(values(read.records), ['c1', 'c2', 'plain', 'c3'])
    assert.deepEqual(
      read.records.map((r) => r.offset),
      [0, 1, 6, 9],
    )
    assert.equal(read.nextOffset, 11)
  })

  test('starts inside a batch and stops at maxRecords', () => {
    assert.deepEqual(values(committedRecords(tp, batches, aborted, 1, 100).records), ['c2', 'plain', 'c3'])
    const limited = committedRecords(tp, batches, aborted, 0, 2)
    assert.deepEqual(values(limited.records), ['c1', 'c2'])
    assert.equal(limited.nextOffset, 2, 'the next read starts after the last record returned')
    assert.deepEqual(committedRecords(tp, batches, aborted, 0, 0), { records: [], nextOffset: 0 })
  })

  test('interleaved producers: only the aborted one is skipped', () => {
    const interleaved = [
      batch(0, ['a-aborted'], tx(7)),
      batch(1, ['b-committed'], tx(8)),
      marker(2, 7, false),
      marker(3, 8, true),
    ]
    const read = committedRecords(tp, interleaved, [{ producerId: 7n, firstOffset: 0n }], 0, 100)
    assert.deepEqual(values(read.records), ['b-committed'])
    assert.equal(read.nextOffset, 4)
  })

  test('a response of markers only reads nothing but moves the offset', () => {
    const read = committedRecords(tp, [marker(4, 1, true)], null, 4, 100)
    assert.deepEqual(read, { records: [], nextOffset: 5 })
  })

  test('keys, values, headers and timestamps; LogAppendTime batches use the broker time', () => {
    const [record] = committedRecords(tp, [batch(0, ['v'], { timestamp: 5000 })], null, 0, 1).records
    assert.equal(Buffer.from(record!.key!).toString(), 'k-v')
    assert.deepEqual(record!.headers, { h: 'v' })
    assert.equal(record!.timestamp, 5000)
    assert.equal(record!.topic, 't')
    const [tombstone] = committedRecords(tp, [batch(0, [null])], null, 0, 1).records
    assert.equal(tombstone!.value, null)
    assert.equal(tombstone!.key, null)
    const appended = committedRecords(
      tp,
      [batch(0, ['x', 'y'], { timestamp: 5000, attributes: LOG_APPEND_TIME })],
      null,
      0,
      10,
    ).records
    assert.deepEqual(
      appended.map((r) => r.timestamp),
      [5050, 5050],
    )
  })
})

describe('producing', () => {
  test('offsetsOf gives each record its base offset plus its place in the partition', () => {
    const m = (partition: number): KafkaMessage => ({ topic: 't', partition })
    const messages = [m(0), m(1), m(0), m(2), m(0), m(1)]
    const acknowledged = [
      { topic: 't', partition: 0, offset: 10n },
      { topic: 't', partition: 1, offset: 3n },
      { topic: 't', partition: 2, offset: 0n },
    ]
    assert.deepEqual(offsetsOf(messages, acknowledged), [
      { partition: 0, offset: 10 },
      { partition: 1, offset: 3 },
      { partition: 0, offset: 11 },
      { partition: 2, offset: 0 },
      { partition: 0, offset: 12 },
      { partition: 1, offset: 4 },
    ])
    assert.throws(() => offsetsOf([m(3)], acknowledged), /without an offset/)
  })

  test('toKafkaMessage keeps null values null and sends headers as bytes', () => {
    const message = toKafkaMessage('t', 2, { key: new Uint8Array([1, 2]), value: null, headers: { a: 'ü' } })
    assert.equal(message.partition, 2)
    assert.equal(message.value, undefined, 'no value on the wire means null, a tombstone')
    assert.deepEqual(message.key, Buffer.from([1, 2]))
    const headers = message.headers as Map<Buffer, Buffer>
    assert.deepEqual(
      [...headers.entries()].map(([k, v]) => [k.toString(), v.toString()]),
      [['a', 'ü']],
    )
    assert.equal(typeof message.timestamp, 'bigint', 'the append time is set when the record is taken')
  })

  test('RequestTimestamps keeps records 2^31 ms apart out of one partition batch', () => {
    const at = (partition: number, timestamp: number): KafkaMessage => ({
      topic: 't',
      partition,
      timestamp: BigInt(timestamp),
    })
    const guard = new RequestTimestamps()
    const now = 1_800_000_000_000
    guard.add(at(0, now))
    assert.equal(guard.admits(at(0, now - 2 ** 31 + 1)), true)
    assert.equal(guard.admits(at(0, now + 2 ** 31 - 1)), true)
    assert.equal(guard.admits(at(0, now - 2 ** 31)), false)
    assert.equal(guard.admits(at(0, 1_600_000_000_000)), false)
    assert.equal(guard.admits(at(1, 1_600_000_000_000)), true, 'another partition is another batch')
  })
})
