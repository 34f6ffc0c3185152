/**
 * A transaction encodes its records straight into batches, learning each record's size as it
 * writes it (BatchBuilder), with no size pass first. These tests hold that path to what the
 * measured path guaranteed: exact bytes for every UTF-8 width, batches no bigger than 1 MiB,
 * oversized records refused with nothing written and no offset lost, and offsets that match
 * what `commit()` reports.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isSluiceError } from '../../../src/errors.ts'
import { BatchBuilder, decodeBatch, HEADER_BYTES, recordSize } from '../../../src/log/embedded/batch-codec.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import type { LogRecord, ProducerRecord } from '../../../src/log/types.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())

function readAll(log: EmbeddedLog, topic: string, partition: number): LogRecord[] {
  const out: LogRecord[] = []
  for (let offset = 0; ; ) {
    const batch = log.read({ topic, partition }, offset)
    if (batch.length === 0) return out
    out.push(...batch)
    offset = batch[batch.length - 1]!.offset + 1
  }
}

/** Values of every UTF-8 width: ASCII, 2-byte, 3-byte and 4-byte (a surrogate pair) chars. */
function mixedValue(i: number): string {
  const widths = ['a', 'é', '€', '😀']
  return `${i}:${widths[i % 4]!.repeat(50 + (i % 97))}`
}

describe('encoding a transaction as it goes', () => {
  test('every width of UTF-8 comes back exact, over many batches of at most 1 MiB', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('t', { partitions: 1 })
      const records: ProducerRecord[] = []
      for (let i = 0; i < 12_000; i++) records.push({ key: `k${i % 7}`, value: mixedValue(i), timestamp: i })
      const tx = log.transaction({ id: 'tx' })
      tx.send('t', records)
      const result = await tx.commit()
      assert.deepEqual(
        result.get('t')!.map((m) => m.offset),
        records.map((_, i) => i),
      )
      const back = readAll(log, 't', 0)
      assert.equal(back.length, records.length)
      for (let i = 0; i < back.length; i++) {
        assert.equal(back[i]!.offset, i)
        assert.equal(text(back[i]!.value), records[i]!.value)
        assert.equal(text(back[i]!.key), records[i]!.key)
        assert.equal(back[i]!.timestamp, i)
      }
      const total = records.reduce((n, r) => n + recordSize(r), 0)
      const detail = log.describeTopicSync('t').partitionDetails[0]!
      assert.ok(total > 3 * 1024 * 1024, `${total} bytes: enough for several batches`)
      assert.ok(detail.batches >= Math.ceil(total / (1024 * 1024)), `${detail.batches} batches`)
      assert.equal(detail.bytes, total + detail.batches * HEADER_BYTES, 'each record takes its exact size')
    } finally {
      await log.close()
    }
  })

  test('records are spread by key over partitions, and commit() reports where each went', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('t', { partitions: 3 })
      const records: ProducerRecord[] = []
      for (let i = 0; i < 3_000; i++) records.push({ key: `user-${i % 11}`, value: mixedValue(i) })
      records.push({ key: 'pinned', value: 'to partition 2', partition: 2 })
      const tx = log.transaction({ id: 'tx' })
      tx.send('t', records)
      const metas = (await tx.commit()).get('t')!
      assert.equal(metas.length, records.length)
      const stored = [0, 1, 2].map((p) => readAll(log, 't', p))
      for (let i = 0; i < records.length; i++) {
        const { partition, offset } = metas[i]!
        assert.equal(text(stored[partition]![offset]!.value), records[i]!.value, `record ${i}`)
      }
      assert.equal(metas.at(-1)!.partition, 2)
      assert.equal(
        stored.reduce((n, s) => n + s.length, 0),
        records.length,
      )
    } finally {
      await log.close()
    }
  })

  test('a record bigger than a pooled buffer goes in a batch of its own size', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('t', { partitions: 1 })
      const big = '€'.repeat(300_000) // 900,000 bytes: over the 300 KiB pooled buffers
      const tx = log.transaction({ id: 'tx' })
      tx.send('t', [{ value: 'before' }, { value: big }, { value: 'after' }])
      await tx.commit()
      assert.deepEqual(
        readAll(log, 't', 0).map((r) => text(r.value)),
        ['before', big, 'after'],
      )
    } finally {
      await log.close()
    }
  })

  test('an oversized record late in a transaction writes nothing, and the next one starts at offset 0', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('t', { partitions: 2, maxRecordBytes: 2_000 })
      const fine: ProducerRecord[] = []
      for (let i = 0; i < 5_000; i++) fine.push({ key: `k${i}`, value: mixedValue(i) })
      const bad = log.transaction({ id: 'tx' })
      bad.send('t', fine)
      // 700 chars, under the limit, but 2,100 bytes of UTF-8.
      bad.send('t', [{ key: 'k1', value: '€'.repeat(700) }])
      bad.commitOffsets('g', [{ topic: 't', partition: 0, offset: 9 }])
      await assert.rejects(
        bad.commit(),
        (e) =>
          isSluiceError(e, 'SLUICE_RECORD_TOO_LARGE') &&
          /record 0 for topic "t" is 2124 bytes; the topic accepts at most 2000/.test(e.message),
      )
      assert.deepEqual([readAll(log, 't', 0).length, readAll(log, 't', 1).length], [0, 0])
      assert.equal((await log.committedOffsets('g', 't')).size, 0)
      const good = log.transaction({ id: 'tx' })
      good.send('t', [{ value: 'x', partition: 0 }])
      assert.deepEqual((await good.commit()).get('t'), [{ partition: 0, offset: 0 }])
      assert.equal(readAll(log, 't', 0).length, 1)
    } finally {
      await log.close()
    }
  })

  test('metadata: false commits the same records and reports none', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('t', { partitions: 2 })
      const tx = log.transaction({ id: 'tx', metadata: false })
      tx.send('t', [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ])
      assert.equal((await tx.commit()).size, 0)
      assert.equal(readAll(log, 't', 0).length + readAll(log, 't', 1).length, 2)
    } finally {
      await log.close()
    }
  })
})

describe('BatchBuilder', () => {
  test('a record that may not fit is measured exactly, and one that does not is refused whole', () => {
    const record = (value: string): ProducerRecord => ({ value })
    const ascii = record('a'.repeat(100))
    const size = recordSize(ascii)
    // Room for exactly two: the second's bound (300 bytes of UTF-8) is more than the room left.
    const builder = new BatchBuilder(Buffer.alloc(HEADER_BYTES + 2 * size), 1)
    assert.equal(builder.add(ascii), size)
    assert.equal(builder.add(ascii), size)
    assert.equal(builder.add(record('b')), -1, 'full')
    assert.equal(builder.count, 2)
    const batch = builder.seal(7)
    const out: LogRecord[] = []
    decodeBatch(batch, { topic: 't', partition: 0 }, 7, 0, out, 10)
    assert.deepEqual(
      out.map((r) => [r.offset, text(r.value)]),
      [
        [7, ascii.value],
        [8, ascii.value],
      ],
    )
  })

  test('a batch holds at most maxBytes of records, and its first record whatever its size', () => {
    const big: ProducerRecord = { value: 'x'.repeat(500) }
    const builder = new BatchBuilder(Buffer.alloc(4096), 1, 100)
    assert.equal(builder.add(big), recordSize(big), 'the first goes in')
    assert.equal(builder.add({ value: 'y' }), -1, 'over maxBytes')
  })
})
