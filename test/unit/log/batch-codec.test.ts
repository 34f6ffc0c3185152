import assert from 'node:assert/strict'
import { test } from 'node:test'
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
