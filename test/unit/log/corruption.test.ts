/**
 * Damaged bytes on disk are reported, never returned as data: the stored batches are altered
 * behind the log's back through LMDB directly, then the log is reopened and read.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { open } from 'lmdb'
import { isSluiceError } from '../../../src/errors.ts'
import { openEmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const TOPIC = 'orders'
const BATCHES = 3
const PER_BATCH = 10
/** The batch every case damages: the middle one of partition 1, offsets 10..19. */
const DAMAGED = { partition: 1, baseOffset: 10 }

const recordValue = (p: number, offset: number) => `partition-${p}-record-${offset}-${'x'.repeat(40)}`

/** Two partitions, each with three batches of ten records, written with appendBatch. */
async function writeFixture(dataDir: string): Promise<void> {
  const log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
  try {
    await log.createTopic(TOPIC, { partitions: 2 })
    for (let p = 0; p < 2; p++) {
      for (let b = 0; b < BATCHES; b++) {
        const records = Array.from({ length: PER_BATCH }, (_, i) => ({
          key: Buffer.from(`key-${i}`),
          value: Buffer.from(recordValue(p, b * PER_BATCH + i)),
          headers: { batch: String(b) },
        }))
        const { baseOffset } = await log.appendBatch({ topic: TOPIC, partition: p }, records)
        assert.equal(baseOffset, b * PER_BATCH)
      }
    }
  } finally {
    await log.close()
  }
}

/**
 * Rewrites one stored batch through LMDB directly (the log is closed). The key layout is
 * storage.ts's: topicId:u32BE partition:u32BE baseOffset:u64BE in the 'batches' sub-database.
 */
async function damageBatch(
  dataDir: string,
  target: { partition: number; baseOffset: number },
  mutate: (stored: Buffer) => Buffer,
): Promise<void> {
  const env = open({ path: join(dataDir, 'log.mdb'), maxDbs: 16 })
  try {
    const topics = env.openDB<{ id: number }, string>('topics', { encoding: 'msgpack' })
    const topicId = topics.get(TOPIC)?.id
    assert.ok(topicId, `topic record of "${TOPIC}"`)
    const batches = env.openDB<Buffer, Buffer>('batches', { keyEncoding: 'binary', encoding: 'binary' })
    const key = Buffer.alloc(16)
    key.writeUInt32BE(topicId, 0)
    key.writeUInt32BE(target.partition, 4)
    key.writeBigUInt64BE(BigInt(target.baseOffset), 8)
    const stored = batches.get(key)
    assert.ok(stored, `a batch is stored at partition ${target.partition} base offset ${target.baseOffset}`)
    const damaged = mutate(Buffer.from(stored)) // a copy: LMDB's buffer is not ours to change
    assert.ok(!damaged.equals(stored), 'the mutation changed the stored bytes')
    batches.putSync(key, damaged)
  } finally {
    await env.close()
  }
}

function flip(buf: Buffer, at: number): Buffer {
  assert.ok(at >= 0 && at < buf.length, `byte ${at} is inside the ${buf.length}-byte batch`)
  buf[at]! ^= 0x01
  return buf
}

/** The error must say where the damage is: topic, partition and the batch's offset. */
function isCorruptionAt(partition: number, offset: number, why: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isSluiceError(error, 'SLUICE_CORRUPT_BATCH'), `expected SLUICE_CORRUPT_BATCH, got ${error}`)
    assert.match(error.message, new RegExp(`topic "${TOPIC}"`))
    assert.match(error.message, new RegExp(`partition ${partition}\\b`))
    assert.match(error.message, new RegExp(`offset ${offset}\\b`))
    assert.match(error.message, why)
    return true
  }
}

/** Writes the fixture, damages the middle batch of partition 1, reopens and checks every read. */
async function checkDamageIsReported(mutate: (stored: Buffer) => Buffer, why: RegExp): Promise<void> {
  const dataDir = tempDir()
  await writeFixture(dataDir)
  await damageBatch(dataDir, DAMAGED, mutate)

  const log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
  try {
    const tp = { topic: TOPIC, partition: DAMAGED.partition }
    const reported = isCorruptionAt(DAMAGED.partition, DAMAGED.baseOffset, why)
    // Reading the damaged batch, from its start or from inside it, is an error naming the batch.
    assert.throws(() => log.read(tp, DAMAGED.baseOffset), reported)
    assert.throws(() => log.read(tp, DAMAGED.baseOffset + 5), reported)
    // A read that runs into it from an earlier batch fails too, instead of stopping short.
    assert.throws(() => log.read(tp, 0), reported)
    await assert.rejects(log.fetch(tp, DAMAGED.baseOffset + 1), reported)

    // The damage stays local: the other batches of the partition and the other partition read fine.
    const before = log.read(tp, 0, { maxRecords: PER_BATCH })
    assert.deepEqual(
      before.map((r) => Buffer.from(r.value!).toString()),
      Array.from({ length: PER_BATCH }, (_, i) => recordValue(DAMAGED.partition, i)),
    )
    const after = log.read(tp, DAMAGED.baseOffset + PER_BATCH)
    assert.deepEqual(
      after.map((r) => [r.offset, Buffer.from(r.value!).toString()]),
      Array.from({ length: PER_BATCH }, (_, i) => [20 + i, recordValue(DAMAGED.partition, 20 + i)]),
    )
    const other = log.read({ topic: TOPIC, partition: 0 }, 0)
    assert.equal(other.length, BATCHES * PER_BATCH)
    assert.ok(other.every((r, i) => Buffer.from(r.value!).toString() === recordValue(0, i)))
  } finally {
    await log.close()
  }
}

describe('damaged batches are detected on read', () => {
  test('a flipped byte in a record value', async () => {
    await checkDamageIsReported((stored) => {
      // The value of offset 15 (the 6th record of the batch), found by its bytes.
      const at = stored.indexOf(recordValue(DAMAGED.partition, 15))
      assert.ok(at > 48, 'the value lies in the payload region, after the 48-byte header')
      return flip(stored, at + 3)
    }, /checksum/)
  })

  test('a flipped byte in a record key', async () => {
    await checkDamageIsReported((stored) => flip(stored, stored.indexOf('key-7') + 4), /checksum/)
  })

  test("a flipped byte in the header's record count", async () => {
    // Header: magic u8, attributes u8, reserved u16, crc u32, length u32, count u32 (at 12), ...
    await checkDamageIsReported((stored) => {
      assert.equal(stored.readUInt32LE(12), PER_BATCH, 'the count field holds the record count')
      return flip(stored, 12)
    }, /checksum/)
  })

  test("a flipped byte in the header's base offset", async () => {
    await checkDamageIsReported((stored) => flip(stored, 16 + 6), /checksum/)
  })

  test('a flipped byte in the stored checksum itself', async () => {
    await checkDamageIsReported((stored) => flip(stored, 5), /checksum/)
  })

  test('a truncated batch', async () => {
    await checkDamageIsReported((stored) => stored.subarray(0, stored.length - 7), /length/)
  })

  test('a batch truncated inside its header', async () => {
    await checkDamageIsReported((stored) => stored.subarray(0, 20), /only 20 bytes/)
  })
})
