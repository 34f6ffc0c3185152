import assert from 'node:assert/strict'
import { test } from 'node:test'
import { crc32 } from 'node:zlib'
import { decodeBatch, encodeBatch, readBatchInfo, recordSize } from '../../../src/log/embedded/batch-codec.ts'
import type { LogRecord, ProducerRecord } from '../../../src/log/types.ts'

const enc = new TextEncoder()
const origin = { topic: 't', partition: 3 }

test('a batch round-trips keys, values, nulls, headers and timestamps', () => {
  const records: ProducerRecord[] = [
    { key: enc.encode('k1'), value: enc.encode('{"a":1}'), timestamp: 1000 },
    { key: null, value: null, timestamp: 900 },
    { value: enc.encode(''), headers: { trace: 'abc', ünï: 'cödé' }, timestamp: 1100 },
  ]
  const buf = encodeBatch(records, records.map(recordSize), 40, 5000)
  const out: LogRecord[] = []
  decodeBatch(buf, origin, 40, 0, out, 100)
  assert.equal(out.length, 3)
  assert.deepEqual(
    out.map((r) => [
      r.offset,
      r.timestamp,
      r.key && Buffer.from(r.key).toString(),
      r.value && Buffer.from(r.value).toString(),
    ]),
    [
      [40, 1000, 'k1', '{"a":1}'],
      [41, 900, null, null],
      [42, 1100, null, ''],
    ],
  )
  assert.deepEqual(out[2]!.headers, { trace: 'abc', ünï: 'cödé' })
  assert.equal(out[0]!.topic, 't')
  assert.equal(out[0]!.partition, 3)
  const info = readBatchInfo(buf, origin, 40)
  assert.deepEqual(
    [info.count, info.minTimestamp, info.maxTimestamp, info.lastOffsetDelta],
    [3, 900, 1100, 2],
  )
})

test('decoding skips records before the requested offset and stops at maxRecords', () => {
  const records = Array.from({ length: 10 }, (_, i) => ({ value: enc.encode(String(i)) }))
  const buf = encodeBatch(records, records.map(recordSize), 100, 1)
  const out: LogRecord[] = []
  decodeBatch(buf, origin, 100, 104, out, 3)
  assert.deepEqual(
    out.map((r) => r.offset),
    [104, 105, 106],
  )
})

test('sparse offsets (after compaction) survive encoding', () => {
  const records = [{ value: enc.encode('a') }, { value: enc.encode('b') }]
  const buf = encodeBatch(records, records.map(recordSize), 10, 1, 0, -1, [2, 7])
  const out: LogRecord[] = []
  decodeBatch(buf, origin, 10, 0, out, 10)
  assert.deepEqual(
    out.map((r) => r.offset),
    [12, 17],
  )
})

test('a flipped bit anywhere outside the checksum field is detected', () => {
  const records = [{ key: enc.encode('k'), value: enc.encode('hello world') }]
  const clean = encodeBatch(records, records.map(recordSize), 0, 1)
  for (let i = 0; i < clean.length; i++) {
    if (i >= 4 && i < 8) continue
    const damaged = Buffer.from(clean)
    damaged[i]! ^= 0x10
    assert.throws(
      () => decodeBatch(damaged, origin, 0, 0, [], 10),
      (e: Error & { code?: string }) =>
        e.code === 'SLUICE_CORRUPT_BATCH' && /partition 3 at offset 0/.test(e.message),
      `byte ${i}`,
    )
  }
})

test('a batch carries its append time, apart from its records’ timestamps', () => {
  // Producer timestamps from 2020 (event time), appended "now" = 1_700_000_000_000.
  const records: ProducerRecord[] = [
    { value: enc.encode('a'), timestamp: 1_600_000_000_000 },
    { value: enc.encode('b') },
  ]
  const buf = encodeBatch(records, records.map(recordSize), 0, 1_700_000_000_000)
  const out: LogRecord[] = []
  decodeBatch(buf, origin, 0, 0, out, 10)
  assert.deepEqual(
    out.map((r) => [r.timestamp, r.appendTime]),
    [
      [1_600_000_000_000, 1_700_000_000_000],
      [1_700_000_000_000, 1_700_000_000_000],
    ],
  )
  assert.equal(readBatchInfo(buf, origin, 0).appendTime, 1_700_000_000_000)
})

test('batches of the first format (48-byte header, no append time) are still read', () => {
  const records: ProducerRecord[] = [
    { key: enc.encode('k'), value: enc.encode('{"n":1}'), timestamp: 2_000 },
    { value: enc.encode('x'), headers: { h: 'v' }, timestamp: 3_000 },
  ]
  const v2 = encodeBatch(records, records.map(recordSize), 7, 9_999)
  // The same batch as format 1 wrote it: magic 1, no appendTime field, its own length and crc.
  const v1 = Buffer.concat([v2.subarray(0, 48), v2.subarray(56)])
  v1[0] = 1
  v1.writeUInt32LE(v1.length, 8)
  v1.writeUInt32LE(crc32(v1.subarray(8), crc32(v1.subarray(0, 4))), 4)
  const out: LogRecord[] = []
  decodeBatch(v1, origin, 7, 0, out, 10)
  assert.deepEqual(
    out.map((r) => [r.offset, r.timestamp, r.appendTime, Buffer.from(r.value!).toString(), r.headers]),
    [
      [7, 2_000, 3_000, '{"n":1}', {}],
      [8, 3_000, 3_000, 'x', { h: 'v' }],
    ],
    'format 1: the append time is taken to be the batch’s newest timestamp',
  )
  const info = readBatchInfo(v1, origin, 7)
  assert.deepEqual([info.count, info.lastOffsetDelta, info.appendTime, info.bytes], [2, 1, 3_000, v1.length])
  // A format this code does not know is refused by name.
  const v9 = Buffer.from(v2)
  v9[0] = 9
  assert.throws(() => decodeBatch(v9, origin, 7, 0, [], 10), /unknown batch format 9/)
})
