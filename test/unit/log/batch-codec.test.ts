import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { crc32 } from 'node:zlib'
import { jsonCodec } from '../../../src/dsl/codec.ts'
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

test('an all-ASCII batch hands its values out as text too; one other char in a key or value turns that off', () => {
  const ascii: ProducerRecord[] = [
    { key: 'k1', value: '{"a":1}', timestamp: 1 },
    { key: enc.encode('k2'), value: enc.encode('{"b":"two"}'), timestamp: 2 },
    { key: null, value: '', timestamp: 3 },
    { key: 'k4', value: null, timestamp: 4 },
  ]
  const buf = encodeBatch(ascii, ascii.map(recordSize), 0, 10)
  assert.equal(buf[1], 1, 'attribute bit 0: all ASCII')
  const withText: LogRecord[] = []
  decodeBatch(buf, origin, 0, 0, withText, 10, true)
  assert.deepEqual(
    withText.map((r) => [r.keyText, r.valueText]),
    [
      ['k1', '{"a":1}'],
      ['k2', '{"b":"two"}'],
      [undefined, ''],
      ['k4', undefined],
    ],
  )
  // Keys of 13 bytes or more are not handed out as text (kept in state, a slice would keep the batch).
  const long: ProducerRecord[] = [
    { key: 'twelve-chars', value: '1' },
    { key: 'thirteen-char', value: '2' },
  ]
  const longOut: LogRecord[] = []
  decodeBatch(encodeBatch(long, long.map(recordSize), 0, 1), origin, 0, 0, longOut, 10, true)
  assert.deepEqual(
    longOut.map((r) => r.keyText),
    ['twelve-chars', undefined],
  )
  for (const r of withText)
    assert.equal(r.valueText, r.value === null ? undefined : Buffer.from(r.value).toString())
  // Without asking for text, none is made.
  const bytesOnly: LogRecord[] = []
  decodeBatch(buf, origin, 0, 0, bytesOnly, 10)
  assert.ok(bytesOnly.every((r) => r.keyText === undefined && r.valueText === undefined))

  // A multi-byte char in a string value, in a byte value, or in a key: no text for the batch.
  for (const odd of [
    { key: 'k', value: '{"city":"Zürich"}' },
    { key: 'k', value: enc.encode('{"c":"€"}') },
    { key: '🐟', value: '{}' },
    { key: enc.encode('ä'), value: '{}' },
  ] satisfies ProducerRecord[]) {
    const records = [...ascii, odd]
    const mixed = encodeBatch(records, records.map(recordSize), 0, 10)
    assert.equal(mixed[1], 0, `not ASCII: ${JSON.stringify(odd.key)}`)
    const out: LogRecord[] = []
    decodeBatch(mixed, origin, 0, 0, out, 10, true)
    assert.ok(out.every((r) => r.keyText === undefined && r.valueText === undefined))
    assert.equal(
      Buffer.from(out[4]!.value!).toString(),
      typeof odd.value === 'string' ? odd.value : Buffer.from(odd.value).toString(),
    )
  }
})

test('values parsed from a batch’s text, and its short keys, do not keep the batch’s text in memory (a raw value would)', () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  // 100 batches of about 0.8 MiB each; from each, one record's value is kept. Measured: parsed
  // values and short keys about 5 MiB in all (the kept objects), raw slices 6 MiB more.
  const keep = (what: (record: LogRecord) => unknown): number => {
    const kept: unknown[] = []
    for (let i = 0; i < 3; i++) gc()
    const used = () => {
      const m = process.memoryUsage()
      return m.heapUsed + m.external
    }
    const before = used()
    for (let b = 0; b < 100; b++) {
      const records: ProducerRecord[] = Array.from({ length: 4_000 }, (_, i) => ({
        key: `k${i}`,
        value: JSON.stringify({ batch: b, i, extra: 'x'.repeat(200) }),
      }))
      const out: LogRecord[] = []
      decodeBatch(encodeBatch(records, records.map(recordSize), 0, 1), origin, 0, 0, out, 10_000, true)
      kept.push(what(out[7]!))
    }
    // External strings go back to the system in the GC after the one that found them dead.
    for (let i = 0; i < 3; i++) gc()
    const grown = used() - before
    assert.equal(kept.length, 100)
    return grown
  }
  const parsed = keep((r) => jsonCodec.decodeText!(r.valueText!))
  const keys = keep((r) => r.keyText)
  const raw = keep((r) => r.valueText)
  assert.ok(parsed < 8 * 2 ** 20, `parsed values kept ${(parsed / 2 ** 20).toFixed(1)} MiB of batch text`)
  assert.ok(keys < 8 * 2 ** 20, `short keys kept ${(keys / 2 ** 20).toFixed(1)} MiB of batch text`)
  // The control: kept as is, each slice holds the 64 KiB of text it was cut from (6.25 MiB).
  assert.ok(
    raw > parsed + 4 * 2 ** 20,
    `raw slices kept ${(raw / 2 ** 20).toFixed(1)} MiB, parsed values ${(parsed / 2 ** 20).toFixed(1)}`,
  )
})
