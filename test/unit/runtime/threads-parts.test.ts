/**
 * The two pieces of the threaded runner that carry data between threads, alone: the record
 * pack (what crosses from a worker to the main thread) and a worker's state backend (what a
 * worker reads while the main thread commits what it handed over).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { openEmbeddedLog, type ProducerRecord } from 'sluice'
import { DELETED } from '../../../src/runtime/state.ts'
import { CommittedState } from '../../../src/runtime/threads/committed-state.ts'
import { packRecords, RecordUnpacker } from '../../../src/runtime/threads/packed-records.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const bytes = (s: string) => Buffer.from(s)
// Unpacked keys and values are always bytes, whether they were packed as bytes or as strings.
const text = (b: ProducerRecord['key']) => {
  if (typeof b === 'string') throw new Error(`unpacked as a string: ${b}`)
  return b ? Buffer.from(b).toString() : b
}

describe('packed records', () => {
  test('come back as they went in: null keys and values, headers, partitions, no timestamp', () => {
    const a: ProducerRecord[] = [
      { key: bytes('k1'), value: bytes('{"n":1}'), timestamp: 1_000 },
      { key: null, value: bytes('v2'), timestamp: 2_000, partition: 3 },
    ]
    const b: ProducerRecord[] = [
      { key: null, value: null, timestamp: 3_000, partition: 0, headers: { 'sluice-watermark': '0:5:0' } },
      { key: bytes(''), value: bytes('') },
    ]
    const packed = structuredClone(packRecords([a, [], b]))
    const unpacker = new RecordUnpacker(packed)
    const first = unpacker.next(2)
    const second = unpacker.next(0)
    const third = unpacker.next(2)
    assert.deepEqual(
      first.map((r) => [text(r.key), text(r.value), r.timestamp, r.partition, r.headers]),
      [
        ['k1', '{"n":1}', 1_000, undefined, undefined],
        [null, 'v2', 2_000, 3, undefined],
      ],
    )
    assert.deepEqual(second, [])
    assert.deepEqual(
      third.map((r) => [text(r.key), text(r.value), r.timestamp, r.partition, r.headers]),
      [
        [null, null, 3_000, 0, { 'sluice-watermark': '0:5:0' }],
        ['', '', undefined, undefined, undefined],
      ],
    )
  })

  test('strings are packed as their UTF-8 bytes, next to bytes', () => {
    const records: ProducerRecord[] = [
      { key: 'k1', value: '{"city":"Zürich","€":1}', timestamp: 1 },
      { key: bytes('k2'), value: 'plain', timestamp: 2 },
      { key: '', value: '', timestamp: 3 },
      { key: '🐟', value: bytes('{"n":2}'), timestamp: 4 },
    ]
    const unpacked = new RecordUnpacker(structuredClone(packRecords([records]))).next(4)
    assert.deepEqual(
      unpacked.map((r) => [text(r.key), text(r.value)]),
      [
        ['k1', '{"city":"Zürich","€":1}'],
        ['k2', 'plain'],
        ['', ''],
        ['🐟', '{"n":2}'],
      ],
    )
  })
})

describe("a worker's state backend", () => {
  test('shows handed-over changes until their round is committed, then reads LMDB', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const db = log.storage.state
    await db.put('s\u00000\u0000a', 1)
    await db.put('s\u00000\u0000b', 2)
    const state = new CommittedState(db, () => log.storage.env.resetReadTxn())
    // Round 1 deletes a and changes b; round 2 adds c. Neither is in LMDB yet.
    state.pending(
      1,
      new Map<string, unknown>([
        ['s\u00000\u0000a', DELETED],
        ['s\u00000\u0000b', 20],
      ]),
    )
    state.pending(2, new Map<string, unknown>([['s\u00000\u0000c', 3]]))
    assert.equal(state.get('s\u00000\u0000a'), undefined, 'a deleted window does not come back')
    assert.equal(state.get('s\u00000\u0000b'), 20)
    assert.deepEqual([...state.scan('s\u00000\u0000')].sort(), [
      ['s\u00000\u0000b', 20],
      ['s\u00000\u0000c', 3],
    ])
    // The main thread commits round 1.
    await log.storage.env.transaction(() => {
      db.remove('s\u00000\u0000a')
      db.put('s\u00000\u0000b', 20)
    })
    state.committed(1)
    assert.equal(state.get('s\u00000\u0000a'), undefined)
    assert.equal(state.get('s\u00000\u0000b'), 20, 'read from LMDB now')
    assert.equal(state.get('s\u00000\u0000c'), 3, 'round 2 is still pending')
    assert.throws(() => state.write(), /does not write state/)
    await log.close()
  })
})
