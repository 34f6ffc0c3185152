import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isSluiceError } from '../../../src/errors.ts'
import { BatchRecord } from '../../../src/log/embedded/batch-codec.ts'
import { openEmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import { partitionForKey } from '../../../src/log/partitioner.ts'
import type { LogRecord } from '../../../src/log/types.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const enc = new TextEncoder()
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())
const rec = (value: string, key?: string, timestamp?: number) => ({
  value: enc.encode(value),
  ...(key === undefined ? {} : { key: enc.encode(key) }),
  ...(timestamp === undefined ? {} : { timestamp }),
})

function readAll(
  log: Awaited<ReturnType<typeof openEmbeddedLog>>,
  topic: string,
  partition: number,
): LogRecord[] {
  const out: LogRecord[] = []
  let offset = log.partition({ topic, partition }).startOffset
  for (;;) {
    const batch = log.read({ topic, partition }, offset)
    if (batch.length === 0) return out
    out.push(...batch)
    offset = batch[batch.length - 1]!.offset + 1
  }
}

describe('topics', () => {
  test('create, list, describe, delete, and they survive a reopen', async () => {
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir })
    await log.createTopic('orders', { partitions: 3, retentionMs: 60_000, compact: false })
    await log.createTopic('users', { partitions: 1, compact: true })
    await assert.rejects(log.createTopic('orders', { partitions: 1 }), (e) =>
      isSluiceError(e, 'SLUICE_TOPIC_EXISTS'),
    )
    assert.deepEqual(await log.listTopics(), ['orders', 'users'])
    await log.producer().send('orders', [rec('a'), rec('b'), rec('c')])
    await log.close()

    log = await openEmbeddedLog({ dataDir: dir })
    const d = await log.describeTopic('orders')
    assert.equal(d.partitions, 3)
    assert.equal(d.retentionMs, 60_000)
    assert.equal(
      d.partitionDetails.reduce((n, p) => n + p.endOffset, 0),
      3,
    )
    assert.ok(d.partitionDetails.every((p) => p.startOffset === 0))
    assert.equal((await log.describeTopic('users')).compact, true)
    await log.deleteTopic('orders')
    assert.deepEqual(await log.listTopics(), ['users'])
    await assert.rejects(log.describeTopic('orders'), (e) => isSluiceError(e, 'SLUICE_UNKNOWN_TOPIC'))
    // A new topic with the old name starts empty.
    await log.createTopic('orders', { partitions: 1 })
    assert.equal(readAll(log, 'orders', 0).length, 0)
    await log.close()
  })
})

describe('append and read', () => {
  test('records come back in order with contiguous offsets, keys on the murmur2 partition', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 4 })
    const producer = log.producer()
    const input = Array.from({ length: 1000 }, (_, i) =>
      rec(JSON.stringify({ i }), `user-${i % 17}`, 1_000 + i),
    )
    const acks = await producer.send('t', input)
    assert.equal(acks.length, 1000)
    for (let i = 0; i < 1000; i++) {
      assert.equal(acks[i]!.partition, partitionForKey(enc.encode(`user-${i % 17}`), 4))
    }
    let total = 0
    for (let p = 0; p < 4; p++) {
      const records = readAll(log, 't', p)
      total += records.length
      for (const [j, r] of records.entries()) assert.equal(r.offset, j)
      const indexes = records.map((r) => JSON.parse(text(r.value)!).i as number)
      assert.deepEqual(
        indexes,
        [...indexes].sort((a, b) => a - b),
        'per-partition order is the send order',
      )
      for (const r of records) {
        const i = JSON.parse(text(r.value)!).i
        assert.equal(text(r.key), `user-${i % 17}`)
        assert.equal(r.timestamp, 1_000 + i)
        assert.deepEqual(acks[i], { partition: p, offset: r.offset })
      }
    }
    assert.equal(total, 1000)
    await log.close()
  })

  test('a large send is split into several batches and still reads back whole', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), durability: 'interval' })
    await log.createTopic('big', { partitions: 1 })
    const value = new Uint8Array(10_000).fill(7)
    await log.producer({ batchBytes: 64 * 1024 }).send(
      'big',
      Array.from({ length: 500 }, () => ({ value })),
    )
    const d = await log.describeTopic('big')
    assert.ok(d.partitionDetails[0]!.batches > 10, `batches: ${d.partitionDetails[0]!.batches}`)
    const records = readAll(log, 'big', 0)
    assert.equal(records.length, 500)
    assert.ok(records.every((r) => r.value!.length === 10_000 && r.value![9_999] === 7))
    await log.close()
  })

  test('reading in small steps resumes inside a batch, including the first one', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    await log.producer().send(
      't',
      Array.from({ length: 300 }, (_, i) => rec(String(i))),
    )
    await log.producer().send(
      't',
      Array.from({ length: 300 }, (_, i) => rec(String(300 + i))),
    )
    const seen: string[] = []
    let offset = 0
    for (;;) {
      const batch = log.read({ topic: 't', partition: 0 }, offset, { maxRecords: 7 })
      if (batch.length === 0) break
      assert.equal(batch[0]!.offset, offset, 'each read starts exactly where asked')
      for (const r of batch) seen.push(text(r.value)!)
      offset = batch[batch.length - 1]!.offset + 1
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 600 }, (_, i) => String(i)),
    )
    await log.close()
  })

  test('a long-polling fetch wakes as soon as a record is appended', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const started = Date.now()
    const pending = log.fetch({ topic: 't', partition: 0 }, 0, { waitMs: 10_000 })
    setTimeout(() => void log.producer().send('t', rec('wake up')), 20)
    const records = await pending
    assert.equal(records.length, 1)
    assert.equal(text(records[0]!.value), 'wake up')
    assert.ok(Date.now() - started < 2_000, 'woke long before the 10 s timeout')
    // And without an append it returns empty after the wait.
    assert.deepEqual(await log.fetch({ topic: 't', partition: 0 }, 1, { waitMs: 30 }), [])
    await log.close()
  })

  test('offsets resolve from earliest, latest and time', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const tp = { topic: 't', partition: 0 }
    await log
      .producer()
      .send('t', [rec('a', undefined, 100), rec('b', undefined, 300), rec('c', undefined, 200)])
    await log.producer().send('t', [rec('d', undefined, 400)])
    assert.equal(await log.resolveOffset(tp, 'earliest'), 0)
    assert.equal(await log.resolveOffset(tp, 'latest'), 4)
    assert.equal(await log.resolveOffset(tp, { timestamp: 50 }), 0)
    assert.equal(await log.resolveOffset(tp, { timestamp: 250 }), 1, 'first record at or after the time')
    assert.equal(await log.resolveOffset(tp, { timestamp: 301 }), 3)
    assert.equal(await log.resolveOffset(tp, { timestamp: 401 }), 4, 'past the end: latest')
    await log.close()
  })

  test('reading outside the stored range is a clear error', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    assert.throws(
      () => log.read({ topic: 't', partition: 0 }, 5),
      (e) => isSluiceError(e, 'SLUICE_OFFSET_OUT_OF_RANGE') && /partition 0/.test(e.message),
    )
    assert.throws(() => log.read({ topic: 't', partition: 3 }, 0), /no partition 3/)
    await log.close()
  })
})

describe('consumer groups', () => {
  test('members split the partitions, take over on leave, and resume from committed offsets', async () => {
    const dir = tempDir()
    const log = await openEmbeddedLog({ dataDir: dir })
    await log.createTopic('t', { partitions: 4 })
    await log.producer().send(
      't',
      Array.from({ length: 40 }, (_, i) => ({ ...rec(String(i)), partition: i % 4 })),
    )
    const a = log.consumer({ group: 'g', topics: ['t'], memberId: 'a' })
    const b = log.consumer({ group: 'g', topics: ['t'], memberId: 'b' })
    assert.deepEqual(
      a.assignment().map((tp) => tp.partition),
      [0, 2],
    )
    assert.deepEqual(
      b.assignment().map((tp) => tp.partition),
      [1, 3],
    )
    const fromA = await a.poll({ maxRecords: 100 })
    assert.equal(fromA.length, 20)
    assert.ok(fromA.every((r) => r.partition === 0 || r.partition === 2))
    await a.commit()
    await b.close()
    assert.equal(a.assignment().length, 4, 'a owns every partition once b left')
    const rest = await a.poll({ maxRecords: 100 })
    assert.equal(rest.length, 20, 'only the partitions b never committed')
    assert.ok(rest.every((r) => r.partition === 1 || r.partition === 3))
    await a.commit()
    await a.close()
    assert.deepEqual(
      await log.committedOffsets('g', 't'),
      new Map([
        [0, 10],
        [1, 10],
        [2, 10],
        [3, 10],
      ]),
    )
    await log.producer().send('t', { ...rec('new'), partition: 2 })
    const c = log.consumer({ group: 'g', topics: ['t'] })
    const fresh = await c.poll()
    assert.deepEqual(
      fresh.map((r) => [r.partition, r.offset, text(r.value)]),
      [[2, 10, 'new']],
    )
    await log.close()
  })

  test('a polling consumer wakes on append and reset=latest skips history', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 2 })
    await log.producer().send('t', [rec('old', 'x')])
    const c = log.consumer({ group: 'tail', topics: ['t'], reset: 'latest' })
    const polled = c.poll({ waitMs: 5_000 })
    setTimeout(() => void log.producer().send('t', rec('live', 'y')), 10)
    const records = await polled
    assert.deepEqual(
      records.map((r) => text(r.value)),
      ['live'],
    )
    await log.close()
  })
})

describe('transactions', () => {
  test('appends to several topics and group offsets commit together', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('in', { partitions: 1 })
    await log.createTopic('out-a', { partitions: 2 })
    await log.createTopic('out-b', { partitions: 1 })
    const tx = log.transaction({ id: 'task-0' })
    tx.send('out-a', [rec('1', 'k1'), rec('2', 'k2')])
    tx.send('out-b', rec('3'))
    tx.commitOffsets('app', [{ topic: 'in', partition: 0, offset: 42 }])
    assert.equal(
      (await log.describeTopic('out-b')).partitionDetails[0]!.endOffset,
      0,
      'nothing visible before commit',
    )
    assert.equal((await log.committedOffsets('app', 'in')).size, 0)
    const result = await tx.commit()
    assert.equal(result.get('out-a')!.length, 2)
    assert.deepEqual(result.get('out-b'), [{ partition: 0, offset: 0 }])
    assert.equal(readAll(log, 'out-b', 0).length, 1)
    assert.equal((await log.committedOffsets('app', 'in')).get(0), 42)
    assert.throws(
      () => tx.send('out-b', rec('late')),
      (e) => isSluiceError(e, 'SLUICE_TRANSACTION_STATE'),
    )
    await log.close()
  })

  test('an aborted transaction, or one with a bad record, writes nothing', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1, maxRecordBytes: 100 })
    const aborted = log.transaction({ id: 'x' })
    aborted.send('t', rec('a'))
    aborted.commitOffsets('g', [{ topic: 't', partition: 0, offset: 1 }])
    aborted.abort()
    const bad = log.transaction({ id: 'x' })
    bad.send('t', [rec('fine'), rec('x'.repeat(500))])
    bad.commitOffsets('g', [{ topic: 't', partition: 0, offset: 1 }])
    await assert.rejects(bad.commit(), (e) => isSluiceError(e, 'SLUICE_RECORD_TOO_LARGE'))
    assert.equal(readAll(log, 't', 0).length, 0)
    assert.equal((await log.committedOffsets('g', 't')).size, 0)
    await log.close()
  })

  test('extra writes join the same LMDB transaction', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const tx = log.transaction({ id: 'state' })
    assert.ok(tx)
    const embedded = tx as unknown as { addWrite(w: () => void): void; commit(): Promise<unknown> }
    embedded.addWrite(() => log.storage.meta.put('test-marker', 7))
    tx.send('t', rec('with-state'))
    await embedded.commit()
    assert.equal(log.storage.meta.get('test-marker'), 7)
    await log.close()
  })
})

describe('idempotent appends', () => {
  test('a retried batch is acknowledged with its original offsets and not written twice', async () => {
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir })
    await log.createTopic('t', { partitions: 1 })
    const tp = { topic: 't', partition: 0 }
    const { producerId, epoch } = await log.initProducerId('writer')
    const first = await log.appendBatch(tp, [rec('a'), rec('b')], { producerId, epoch, baseSequence: 0 })
    const retry = await log.appendBatch(tp, [rec('a'), rec('b')], { producerId, epoch, baseSequence: 0 })
    assert.deepEqual(retry, { baseOffset: first.baseOffset, count: 2, duplicate: true })
    await log.appendBatch(tp, [rec('c')], { producerId, epoch, baseSequence: 2 })
    await assert.rejects(log.appendBatch(tp, [rec('gap')], { producerId, epoch, baseSequence: 9 }), (e) =>
      isSluiceError(e, 'SLUICE_OUT_OF_ORDER_SEQUENCE'),
    )
    await log.close()

    // The sequence state is durable: a retry after a restart is still recognised.
    log = await openEmbeddedLog({ dataDir: dir })
    assert.equal(log.lastSequence(producerId, tp), 2)
    const afterRestart = await log.appendBatch(tp, [rec('c')], { producerId, epoch, baseSequence: 2 })
    assert.equal(afterRestart.duplicate, true)
    assert.equal(afterRestart.baseOffset, 2)
    assert.deepEqual(
      readAll(log, 't', 0).map((r) => text(r.value)),
      ['a', 'b', 'c'],
    )
    // A new incarnation with the same name fences the old one.
    const next = await log.initProducerId('writer')
    assert.equal(next.producerId, producerId)
    assert.equal(next.epoch, epoch + 1)
    await log.appendBatch(tp, [rec('d')], { producerId, epoch: next.epoch, baseSequence: 0 })
    await assert.rejects(log.appendBatch(tp, [rec('zombie')], { producerId, epoch, baseSequence: 3 }), (e) =>
      isSluiceError(e, 'SLUICE_PRODUCER_FENCED'),
    )
    await log.close()
  })

  test('a named producer continues its sequence after a restart', async () => {
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir })
    await log.createTopic('t', { partitions: 1 })
    await log.producer({ id: 'p' }).send('t', [rec('1'), rec('2')])
    await log.close()
    log = await openEmbeddedLog({ dataDir: dir })
    await log.producer({ id: 'p' }).send('t', [rec('3')])
    assert.deepEqual(
      readAll(log, 't', 0).map((r) => text(r.value)),
      ['1', '2', '3'],
    )
    await log.close()
  })
})

describe('retention and compaction', () => {
  test('retention by age deletes old batches and moves the start offset', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    await log.createTopic('t', { partitions: 1, retentionMs: 1_000 })
    const p = log.producer()
    await p.send('t', [rec('old1', undefined, 10_000), rec('old2', undefined, 10_500)])
    await p.send('t', [rec('new', undefined, 20_000)])
    const { deletedBatches } = await log.cleanup(20_500)
    assert.equal(deletedBatches, 1)
    const d = await log.describeTopic('t')
    assert.equal(d.partitionDetails[0]!.startOffset, 2)
    assert.equal(d.partitionDetails[0]!.endOffset, 3)
    assert.deepEqual(
      readAll(log, 't', 0).map((r) => text(r.value)),
      ['new'],
    )
    assert.throws(
      () => log.read({ topic: 't', partition: 0 }, 0),
      (e) => isSluiceError(e, 'SLUICE_OFFSET_OUT_OF_RANGE'),
    )
    // A group positioned before the start continues from what is left.
    await log.commitOffsets('g', [{ topic: 't', partition: 0, offset: 0 }])
    const c = log.consumer({ group: 'g', topics: ['t'] })
    assert.deepEqual(
      (await c.poll()).map((r) => r.offset),
      [2],
    )
    await log.close()
  })

  test('retention by size keeps the newest batches under the limit', async () => {
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir, cleanupIntervalMs: 0 })
    await log.createTopic('t', { partitions: 1, retentionBytes: 5_000 })
    const p = log.producer()
    for (let i = 0; i < 10; i++) await p.send('t', rec(`${i}`.padEnd(1_000, '.')))
    await log.cleanup()
    const d = (await log.describeTopic('t')).partitionDetails[0]!
    assert.ok(d.bytes <= 5_000, `bytes ${d.bytes}`)
    assert.ok(d.bytes > 3_000, `bytes ${d.bytes}`)
    assert.equal(d.endOffset, 10)
    await log.close()
    log = await openEmbeddedLog({ dataDir: dir, cleanupIntervalMs: 0 })
    const reopened = (await log.describeTopic('t')).partitionDetails[0]!
    assert.deepEqual(reopened, d, 'start offset and size persist')
    await log.close()
  })

  test('compaction keeps the latest value per key at its original offset and drops old tombstones', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    await log.createTopic('users', { partitions: 1, compact: true })
    const p = log.producer()
    const day = 24 * 3_600_000
    await p.send('users', [rec('alice-1', 'alice', 1), rec('bob-1', 'bob', 1), rec('carol-1', 'carol', 1)])
    await p.send('users', [rec('alice-2', 'alice', 2), { key: enc.encode('bob'), value: null, timestamp: 2 }])
    await p.send('users', [rec('dave-1', 'dave', 3)])
    const now = 3 + 2 * day
    const { compactedRecords } = await log.cleanup(now)
    assert.equal(compactedRecords, 3, 'alice-1, bob-1 and the old bob tombstone')
    assert.deepEqual(
      readAll(log, 'users', 0).map((r) => [r.offset, text(r.key), text(r.value)]),
      [
        [2, 'carol', 'carol-1'],
        [3, 'alice', 'alice-2'],
        [5, 'dave', 'dave-1'],
      ],
    )
    // As in Kafka, compaction leaves gaps but does not move the start offset: reading from 0
    // still works and returns the survivors.
    assert.equal((await log.describeTopic('users')).partitionDetails[0]!.startOffset, 0)
    assert.equal(log.read({ topic: 'users', partition: 0 }, 0)[0]!.offset, 2)
    await log.close()
  })
})

test('a batch read partway and then compacted is read on as compacted, not as first decoded', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
  await log.createTopic('prices', { partitions: 1, compact: true })
  const tp = { topic: 'prices', partition: 0 }
  // One batch: 40 records of 4 keys, so compaction keeps only the last 4.
  await log.producer().send(
    'prices',
    Array.from({ length: 40 }, (_, i) => rec(`p${i}`, `k${i % 4}`, i)),
  )
  // A later batch: the cleaner leaves the newest batch alone, as Kafka its active segment.
  await log.producer().send('prices', [rec('q', 'k9', 40)])
  const first = log.read(tp, 0, { maxRecords: 10 })
  assert.deepEqual(
    first.map((r) => r.offset),
    Array.from({ length: 10 }, (_, i) => i),
  )
  const more = log.read(tp, 10, { maxRecords: 10 })
  assert.deepEqual(
    more.map((r) => text(r.value)),
    Array.from({ length: 10 }, (_, i) => `p${10 + i}`),
    'a read that goes on inside the batch',
  )
  await log.cleanup(40 + 2 * 24 * 3_600_000)
  assert.deepEqual(
    log.read(tp, 20).map((r) => [r.offset, text(r.value)]),
    [
      [36, 'p36'],
      [37, 'p37'],
      [38, 'p38'],
      [39, 'p39'],
      [40, 'q'],
    ],
  )
  await log.close()
})

describe('durability and backpressure', () => {
  test('interval durability keeps what was acknowledged across a clean reopen', async () => {
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir, durability: 'interval', syncIntervalMs: 20 })
    await log.createTopic('t', { partitions: 1 })
    await log.producer().send(
      't',
      Array.from({ length: 100 }, (_, i) => rec(String(i))),
    )
    await log.close()
    log = await openEmbeddedLog({ dataDir: dir })
    assert.equal(readAll(log, 't', 0).length, 100)
    await log.close()
  })

  test('a producer that outruns the log waits: staged bytes stay bounded', async () => {
    const maxInflightBytes = 2 * 1024 * 1024
    const log = await openEmbeddedLog({ dataDir: tempDir(), maxInflightBytes })
    await log.createTopic('t', { partitions: 2 })
    const producer = log.producer({ maxBufferedBytes: 4 * 1024 * 1024 })
    const value = new Uint8Array(1_000)
    let peak = 0
    let sampling = true
    const sample = () => {
      peak = Math.max(peak, log.inflightBytes)
      if (sampling) setImmediate(sample)
    }
    sample()
    // 40 MB offered at once, without waiting between sends.
    const sends = Array.from({ length: 40 }, () =>
      producer.send(
        't',
        Array.from({ length: 1_000 }, () => ({ value })),
      ),
    )
    await Promise.all(sends)
    sampling = false
    assert.ok(peak > 0)
    assert.ok(peak <= maxInflightBytes, `peak in-flight ${peak} over the ${maxInflightBytes} limit`)
    const d = await log.describeTopic('t')
    assert.equal(
      d.partitionDetails.reduce((n, p) => n + p.endOffset, 0),
      40_000,
    )
    await log.close()
  })
})

describe('the commit sequence and queued batches', () => {
  test('readQueued hands records out as BatchRecords (text for ASCII batches), read as plain records a spread copies whole', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const tp = { topic: 't', partition: 0 }
    await log.appendBatch(tp, [rec('{"a":1}', 'k1'), { key: enc.encode('key-of-thirteen'), value: null }])
    await log.appendBatch(tp, [rec('{"city":"Zürich"}', 'k3')])
    // The runner's read: every record lazily; the first batch (ASCII) with its text too.
    const queued = log.readQueued(tp, 0)
    assert.deepEqual(
      queued.map((r) => r instanceof BatchRecord),
      [true, true, true],
    )
    const binary = queued[2] as BatchRecord
    assert.equal(
      text(binary.batch.subarray(binary.valueAt, binary.valueAt + binary.valueLength)),
      '{"city":"Zürich"}',
    )
    assert.deepEqual(
      queued.map((r) => [r.offset, text(r.key), text(r.value), r.keyText, r.valueText]),
      [
        [0, 'k1', '{"a":1}', 'k1', '{"a":1}'],
        [1, 'key-of-thirteen', null, undefined, undefined],
        [2, 'k3', '{"city":"Zürich"}', undefined, undefined],
      ],
    )
    // Anyone else's read: own properties, so a copy keeps the key and value. The runner's
    // read stopped inside the first batch first, so a shared decoded batch would serve it.
    assert.equal(log.readQueued(tp, 0, { maxRecords: 1 }).length, 1)
    const records = log.read(tp, 0)
    assert.ok(records.every((r) => !(r instanceof BatchRecord)))
    const copy = { ...records[0]! }
    assert.equal(text(copy.key), 'k1')
    assert.equal(text(copy.value), '{"a":1}')
    await log.close()
  })

  test('readQueued sees a batch once it is queued to LMDB; read and fetch only once it commits', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const tp = { topic: 't', partition: 0 }
    await log.appendBatch(tp, [rec('a'), rec('b')])
    const pending = log.appendBatch(tp, [rec('c'), rec('d')])
    await null // appendBatch reserves, stages and queues its commit after one microtask
    await null
    const part = log.partition(tp)
    assert.equal(part.highWatermark, 2, 'the second batch has not committed yet')
    assert.equal(part.nextOffset, 4)
    assert.deepEqual(
      log.read(tp, 0).map((r) => text(r.value)),
      ['a', 'b'],
    )
    assert.deepEqual(
      log.readQueued(tp, 0).map((r) => text(r.value)),
      ['a', 'b', 'c', 'd'],
    )
    assert.deepEqual(
      log.readQueued(tp, 3).map((r) => [r.offset, text(r.value)]),
      [[3, 'd']],
    )
    assert.deepEqual(log.readQueued(tp, 0, { maxRecords: 3 }).length, 3)
    assert.throws(
      () => log.readQueued(tp, 5),
      (e) => isSluiceError(e, 'SLUICE_OFFSET_OUT_OF_RANGE'),
    )
    // The records handed out are copies: the queued batch's buffer is reused once committed.
    const early = log.readQueued(tp, 2)
    await pending
    await log.appendBatch(tp, [rec('x'.repeat(100)), rec('y'.repeat(100))])
    assert.deepEqual(
      early.map((r) => text(r.value)),
      ['c', 'd'],
    )
    assert.equal(part.queued.length, 0)
    assert.deepEqual(
      log.read(tp, 2).map((r) => text(r.value)),
      ['c', 'd', 'x'.repeat(100), 'y'.repeat(100)],
    )
    await log.close()
  })

  test('a commit queued behind one that did not apply is not applied either, and the log fails', async () => {
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir })
    await log.createTopic('t', { partitions: 1 })
    const tp = { topic: 't', partition: 0 }
    await log.appendBatch(tp, [rec('before')])
    // What a commit that failed inside LMDB leaves behind: the commit sequence on disk is not
    // the one the next commit was queued behind. (A failure in LMDB's writer thread is only
    // known to JS once the commits queued behind it are already on their way.)
    log.storage.commits.putSync('sequence', 0, 1000)
    await assert.rejects(log.appendBatch(tp, [rec('behind')]), (e) => isSluiceError(e, 'SLUICE_LOG_CLOSED'))
    assert.ok(log.failed)
    await log.close()
    log = await openEmbeddedLog({ dataDir: dir })
    assert.deepEqual(
      readAll(log, 't', 0).map((r) => text(r.value)),
      ['before'],
    )
    // A new life continues from the sequence stored on disk.
    await log.appendBatch(tp, [rec('after')])
    await log.close()
    log = await openEmbeddedLog({ dataDir: dir })
    assert.deepEqual(
      readAll(log, 't', 0).map((r) => text(r.value)),
      ['before', 'after'],
    )
    await log.close()
  })

  test('a write that throws fails its commit and the log', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const tx = log.transaction({ id: 'broken' }) as unknown as {
      addWrite(w: () => void): void
      send(topic: string, records: unknown): void
      commit(): Promise<unknown>
    }
    tx.send('t', rec('x'))
    tx.addWrite(() => {
      throw new Error('boom')
    })
    await assert.rejects(tx.commit(), /boom/)
    assert.ok(log.failed)
    assert.equal(log.partition({ topic: 't', partition: 0 }).highWatermark, 0)
    await log.close()
  })

  test('reservations are granted in call order: a small one waits behind a large one', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), maxInflightBytes: 1000 })
    const first = await log.reserve(600)
    const order: string[] = []
    const large = log.reserve(900).then((n) => order.push('large') && n)
    const small = log.reserve(100).then((n) => order.push('small') && n)
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(order, [], '100 more bytes fit, but the earlier request waits and goes first')
    ;(log as unknown as { commit(s: { appends: [] }, reserved: number): Promise<void> }).commit(
      { appends: [] },
      first,
    )
    await Promise.all([large, small])
    assert.deepEqual(order, ['large', 'small'])
    await log.close()
  })

  test('a producer with linger 0 appends what one event turn sent as one batch, without a timer', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('t', { partitions: 1 })
    const producer = log.producer({ lingerMs: 0 })
    const sends = [producer.send('t', rec('a')), producer.send('t', [rec('b'), rec('c')])]
    await new Promise((r) => setImmediate(r))
    assert.equal(log.partition({ topic: 't', partition: 0 }).nextOffset, 3, 'appended at the end of the turn')
    const acks = await Promise.all(sends)
    assert.deepEqual(
      acks.flat().map((m) => m.offset),
      [0, 1, 2],
    )
    assert.equal(log.describeTopicSync('t').partitionDetails[0]!.batches, 1)
    await log.close()
  })
})
