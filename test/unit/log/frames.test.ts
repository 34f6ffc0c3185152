/**
 * Frames (log/embedded/frames.ts): records written in the batch format as they come, and
 * staged as batches as they lie. They must be the very bytes BatchBuilder makes for the same
 * records, cut into batches of at most 1 MiB the same way, and pass the same checks at the commit.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ByteWriter } from '../../../src/dsl/binary/io.ts'
import { isSluiceError } from '../../../src/errors.ts'
import {
  ATTR_ASCII,
  decodeBatch,
  encodeBatch,
  FramedBatch,
  HEADER_BYTES,
  MAX_BATCH_BYTES,
  recordSize,
  scanFrames,
} from '../../../src/log/embedded/batch-codec.ts'
import { openEmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import { FrameWriter, type RecordFrames } from '../../../src/log/embedded/frames.ts'
import type { EmbeddedTransaction } from '../../../src/log/embedded/transaction.ts'
import type { LogRecord, ProducerRecord } from '../../../src/log/types.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const NOW = 1_700_000_000_000

/** Writes each record as the engine's sinks do: a value given whole, or written in place. */
function frame(
  records: readonly ProducerRecord[],
  inPlace = false,
): { writer: ByteWriter; frames: RecordFrames } {
  const writer = new ByteWriter(64)
  const frames = new FrameWriter(writer)
  for (const r of records) {
    frames.begin(r.key ?? null, r.timestamp!)
    if (inPlace && r.value instanceof Uint8Array && r.headers === undefined) {
      writer.ensure(r.value.length)
      writer.buf.set(r.value, writer.pos)
      writer.pos += r.value.length
      frames.end()
    } else frames.endWith(r.value, r.headers)
  }
  return { writer, frames: frames.take() }
}

/** Seals each run as the log does (EmbeddedLog.encodeFrames): its timestamps' range from the scan. */
function sealAll(frames: RecordFrames, baseOffset = 0): Buffer[] {
  let offset = baseOffset
  let first = 0
  return frames.runs.map((run) => {
    const never = () => new Error('no limit here')
    const { minTs, maxTs } = scanFrames(
      frames.buffer,
      run.start,
      run.end,
      Number.POSITIVE_INFINITY,
      false,
      never,
      first,
    )
    const batch = new FramedBatch(frames.buffer, run.start, run.end, run.count, run.ascii, minTs, maxTs, NOW)
    const sealed = Buffer.from(batch.seal(offset))
    offset += run.count
    first += run.count
    return sealed
  })
}

const records: ProducerRecord[] = [
  { key: 'k1', value: '{"a":1}', timestamp: 1000 },
  { key: null, value: null, timestamp: 900 },
  { key: 'ключ', value: Buffer.from([0, 1, 2, 255]), timestamp: 1100 },
  { key: Buffer.from('raw'), value: 'ü', headers: { trace: 'abc', ünï: 'cödé' }, timestamp: 1050 },
  { key: '', value: '', timestamp: 1200 },
]

describe('frames', () => {
  test("are BatchBuilder's bytes for the same records: lengths, nulls, headers, timestamps", () => {
    const { frames } = frame(records)
    assert.equal(frames.runs.length, 1)
    assert.equal(frames.count, records.length)
    const [framed] = sealAll(frames, 40)
    const built = encodeBatch(records, records.map(recordSize), 40, NOW)
    assert.deepEqual(framed, built)
    // Values written in place (a binary codec's encodeInto) are the same bytes too.
    const [inPlace] = sealAll(frame(records, true).frames, 40)
    assert.deepEqual(inPlace!.subarray(8), built.subarray(8))
  })

  test('a batch is marked ASCII only when every key and value is known to be', () => {
    const ascii = (rs: ProducerRecord[], inPlace = false) =>
      (sealAll(frame(rs, inPlace).frames)[0]![1]! & ATTR_ASCII) !== 0
    assert.equal(ascii([{ key: 'k', value: '{"a":1}', timestamp: 1 }]), true)
    assert.equal(ascii([{ key: null, value: null, timestamp: 1 }]), true)
    assert.equal(ascii([{ key: 'k', value: Buffer.from('ab'), timestamp: 1 }]), true)
    assert.equal(ascii([{ key: 'k', value: '"é"', timestamp: 1 }]), false)
    assert.equal(ascii([{ key: 'é', value: '1', timestamp: 1 }]), false)
    // A value written in place is not looked at: not marked, though it is ASCII here.
    assert.equal(ascii([{ key: 'k', value: Buffer.from('ab'), timestamp: 1 }], true), false)
  })

  test('are cut into runs of at most 1 MiB of records, as BatchBuilder cuts them', () => {
    const big = (i: number): ProducerRecord => ({
      key: `k${i}`,
      value: 'x'.repeat(100_000 + i),
      timestamp: i,
    })
    const rs = Array.from({ length: 45 }, (_, i) => big(i))
    // One record bigger than a batch gets a run of its own.
    rs.splice(20, 0, { key: 'huge', value: 'y'.repeat(MAX_BATCH_BYTES + 10), timestamp: 99 })
    const { frames } = frame(rs)
    const batches = sealAll(frames)
    assert.ok(batches.length >= 5, `${batches.length} batches`)
    const out: LogRecord[] = []
    let offset = 0
    for (const b of batches) {
      if (b.length - HEADER_BYTES > MAX_BATCH_BYTES) {
        assert.equal(b.readUInt32LE(12), 1, 'only a record alone makes a batch bigger than 1 MiB')
      }
      decodeBatch(b, { topic: 't', partition: 0 }, offset, 0, out, Number.POSITIVE_INFINITY)
      offset += b.readUInt32LE(12)
    }
    assert.deepEqual(
      out.map((r) => [r.offset, Buffer.from(r.key!).toString(), r.value!.length, r.timestamp]),
      rs.map((r, i) => [i, r.key, (r.value as string).length, r.timestamp]),
    )
  })

  test('pop and abort drop records, and a run left empty goes with its header room', () => {
    const writer = new ByteWriter(64)
    const frames = new FrameWriter(writer)
    const fill = 'z'.repeat(400_000)
    for (let i = 0; i < 3; i++) {
      frames.begin(`k${i}`, i)
      frames.endWith(fill)
    }
    // The third record opened a second run... (2 × 400 KB fit in 1 MiB, the third does not)
    assert.equal(frames.take().runs.length, 2)
    frames.pop()
    assert.equal(frames.take().runs.length, 1)
    // A value that fails to encode after its record began a run.
    frames.begin('k2', 2)
    writer.ensure(3)
    writer.pos += 3
    frames.abort()
    frames.begin('k3', 3)
    frames.endWith('last')
    const taken = frames.take()
    assert.equal(taken.count, 3)
    const out: LogRecord[] = []
    let offset = 0
    for (const b of sealAll(taken)) {
      decodeBatch(b, { topic: 't', partition: 0 }, offset, 0, out, 100)
      offset += b.readUInt32LE(12)
    }
    assert.deepEqual(
      out.map((r) => [r.offset, Buffer.from(r.key!).toString(), r.value!.length]),
      [
        [0, 'k0', 400_000],
        [1, 'k1', 400_000],
        [2, 'k3', 4],
      ],
    )
  })

  test('commit through a transaction, with the checks of any append', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('plain', { partitions: 1, maxRecordBytes: 200 })
      await log.createTopic('compacted', { partitions: 1, compact: true })
      await log.createTopic('wide', { partitions: 2 })
      const tx = log.transaction({ id: 'ok' }) as EmbeddedTransaction
      tx.send('plain', { key: 'first', value: 'sent as a record', timestamp: 1 })
      tx.sendFrames('plain', frame(records).frames)
      const results = await tx.commit()
      assert.deepEqual(
        results.get('plain')!.map((m) => m.offset),
        [0, 1, 2, 3, 4, 5],
      )
      const read = log.read({ topic: 'plain', partition: 0 }, 0)
      assert.deepEqual(
        read.map((r) => [r.offset, r.timestamp, r.key && Buffer.from(r.key).toString()]),
        [
          [0, 1, 'first'],
          ...records.map((r, i) => [
            i + 1,
            r.timestamp,
            r.key === null ? null : Buffer.from(r.key as string).toString(),
          ]),
        ],
      )
      assert.deepEqual(read[4]!.headers, { trace: 'abc', ünï: 'cödé' })

      // Too big for the topic: refused, nothing staged, no offset taken.
      const tooBig = log.transaction({ id: 'big' }) as EmbeddedTransaction
      tooBig.sendFrames('plain', frame([{ key: 'k', value: 'v'.repeat(300), timestamp: 1 }]).frames)
      await assert.rejects(tooBig.commit(), (e) => isSluiceError(e, 'SLUICE_RECORD_TOO_LARGE'))
      const noKey = log.transaction({ id: 'nokey' }) as EmbeddedTransaction
      noKey.sendFrames('compacted', frame([{ key: null, value: 'v', timestamp: 1 }]).frames)
      await assert.rejects(
        noKey.commit(),
        (e) => isSluiceError(e, 'SLUICE_INVALID_INPUT') && /has no key/.test(`${e}`),
      )
      assert.equal(log.partition({ topic: 'plain', partition: 0 }).highWatermark, 6)
      // A record too big for the topic, rolled back before the commit (a failed step): the
      // commit passes, and the header's timestamps are the kept records' (the run is scanned).
      const writer = new ByteWriter(log.takeBuffer(1))
      const popped = new FrameWriter(writer)
      popped.begin('a', 7)
      popped.endWith('kept')
      popped.begin('b', 1)
      popped.endWith('v'.repeat(300))
      popped.pop()
      const buffer = writer.buf
      const tx2 = log.transaction({ id: 'popped' }) as EmbeddedTransaction
      tx2.sendFrames('plain', popped.take())
      await tx2.commit()
      const [kept] = log.read({ topic: 'plain', partition: 0 }, 6)
      assert.deepEqual([kept!.offset, kept!.timestamp, Buffer.from(kept!.value!).toString()], [6, 7, 'kept'])
      assert.equal(log.partition({ topic: 'plain', partition: 0 }).highWatermark, 7)
      // Once stored, the frames' buffer is the log's again: the next writer gets it, and what
      // it writes there does not touch what was stored.
      const again = log.takeBuffer(1)
      assert.equal(again, buffer)
      again.fill(0)
      assert.equal(Buffer.from(log.read({ topic: 'plain', partition: 0 }, 6)[0]!.value!).toString(), 'kept')
      assert.throws(
        () =>
          (log.transaction({ id: 'wide' }) as EmbeddedTransaction).sendFrames('wide', frame(records).frames),
        /has 2 partitions; framed records go to a topic of one/,
      )
    } finally {
      await log.close()
    }
  })
})
