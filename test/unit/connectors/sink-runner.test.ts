/**
 * The sink runner with an exactly-once sink that keeps its rows and positions in memory: it
 * reads the next batch while a write is in flight and hands it to `prepare`, yet every record
 * is written once, in order, through failed writes (before and after they "commit") and a
 * fenced one; the group offsets it leaves at stop are where the sink stands, not past a batch
 * read ahead; and stop does not wait out a long poll.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { runSink } from '../../../src/connectors/sink-runner.ts'
import { newStatus } from '../../../src/connectors/status.ts'
import { type Sink, type SinkBatch, StalePositionError } from '../../../src/connectors/types.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { openEmbeddedLog } from '../../../src/log/index.ts'
import { waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Item {
  n: number
}

/** Writes rows and positions "atomically" after a pause, like a store's round trip. */
class MemorySink implements Sink<Item> {
  readonly role = 'sink'
  readonly type = 'memory'
  readonly guarantee = 'exactly-once'
  readonly batchSize = 7
  readonly stored = new Map<number, number>()
  readonly rows: { partition: number; offset: number; n: number }[] = []
  /** Write number → how it fails: before applying, or after (the outcome was unknown). */
  readonly failures = new Map<number, 'before' | 'after' | 'stale'>()
  writes = 0
  inFlight = false
  preparedDuringWrite = 0
  readonly #prepared = new WeakSet<SinkBatch<Item>>()
  preparedWritten = 0
  /** Called inside the write with its number, just before it fails or succeeds. */
  onWrite: (n: number) => void = () => {}

  async open(): Promise<void> {}

  async positions(partitions: readonly number[]): Promise<Map<number, number>> {
    return new Map(partitions.filter((p) => this.stored.has(p)).map((p) => [p, this.stored.get(p)!]))
  }

  prepare(batch: SinkBatch<Item>): void {
    this.#prepared.add(batch)
    if (this.inFlight) this.preparedDuringWrite++
  }

  async write(batch: SinkBatch<Item>): Promise<void> {
    assert.equal(this.inFlight, false, 'one write at a time')
    this.inFlight = true
    try {
      await new Promise((r) => setTimeout(r, 2))
      const failure = this.failures.get(++this.writes)
      this.onWrite(this.writes)
      if (failure === 'before') throw new Error('store unreachable')
      for (const [p, { from }] of batch.positions) {
        if ((this.stored.get(p) ?? 0) !== from || failure === 'stale') {
          throw new StalePositionError(
            `partition ${p} stands at ${this.stored.get(p)}, batch starts at ${from}`,
          )
        }
      }
      if (this.#prepared.has(batch)) this.preparedWritten++
      for (const r of batch.records)
        this.rows.push({ partition: r.partition, offset: r.offset, n: r.value.n })
      for (const [p, { to }] of batch.positions) this.stored.set(p, to)
      if (failure === 'after') throw new Error('connection lost before the acknowledgement')
    } finally {
      this.inFlight = false
    }
  }

  async close(): Promise<void> {}
}

const log = await openEmbeddedLog({ dataDir: tempDir('sluice-sink-runner-'), cleanupIntervalMs: 0 })
after(() => log.close())

test('read ahead, through failed and fenced writes and a restart: every record once, in order; group offsets where the sink stands', async () => {
  const RECORDS = 300
  await log.createTopic('items', { partitions: 2 })
  const producer = log.producer()
  await producer.send(
    'items',
    Array.from({ length: RECORDS }, (_, n) => ({
      value: Buffer.from(JSON.stringify({ n })),
      partition: n % 2,
    })),
  )
  await producer.close()
  const sink = new MemorySink()
  sink.failures.set(5, 'before').set(9, 'after').set(14, 'stale').set(26, 'after')
  const group = 'sluice-connect.items-out'
  const run = (abort: AbortController, status = newStatus('items-out', 'sink', 'memory', 'items')) => ({
    status,
    // A poll that waits an hour when there is nothing to read: stop must not wait for it.
    done: runSink(
      log,
      { kind: 'sink', name: 'items-out', topic: topic<Item>('items'), sink },
      { signal: abort.signal, status, pollWaitMs: 3_600_000 },
    ),
  })

  // Stopped mid-run: the group offsets are where the sink stands, not past a batch read ahead.
  const first = new AbortController()
  const one = run(first)
  await waitFor('a third of the records', () => sink.rows.length >= 100)
  first.abort()
  await one.done
  const written = (sink.stored.get(0) ?? 0) + (sink.stored.get(1) ?? 0)
  assert.ok(written < RECORDS, `stopped before the end (${written} written)`)
  assert.deepEqual(await log.committedOffsets(group, 'items'), sink.stored)

  const second = new AbortController()
  const two = run(second)
  await waitFor('every record', () => sink.stored.get(0) === 150 && sink.stored.get(1) === 150)
  second.abort()
  await two.done

  for (const p of [0, 1]) {
    const rows = sink.rows.filter((r) => r.partition === p)
    assert.deepEqual(
      rows.map((r) => [r.offset, r.n]),
      Array.from({ length: RECORDS / 2 }, (_, i) => [i, i * 2 + p]),
      `partition ${p}: each record once, in offset order`,
    )
  }
  assert.ok(sink.preparedDuringWrite > 0, 'batches were read and prepared while a write was in flight')
  assert.ok(sink.preparedWritten > 0, 'prepared batches were written')
  assert.equal(one.status.errors + two.status.errors, 4)
  assert.deepEqual(await log.committedOffsets(group, 'items'), sink.stored)
})

test('stopped while a write fails after it committed: the group offsets are where the store stands', async () => {
  await log.createTopic('stopped-items', { partitions: 1 })
  const producer = log.producer()
  await producer.send(
    'stopped-items',
    Array.from({ length: 20 }, (_, n) => ({ value: Buffer.from(JSON.stringify({ n })), partition: 0 })),
  )
  await producer.close()
  const sink = new MemorySink()
  sink.failures.set(1, 'after')
  const abort = new AbortController()
  // The stop arrives while the first write's outcome is unknown to the runner.
  sink.onWrite = (n) => {
    if (n === 1) abort.abort()
  }
  const status = newStatus('stopped-out', 'sink', 'memory', 'stopped-items')
  await runSink(
    log,
    { kind: 'sink', name: 'stopped-out', topic: topic<Item>('stopped-items'), sink },
    { signal: abort.signal, status },
  )
  assert.equal(status.errors, 1, 'the failed write counts as an error although a stop came meanwhile')
  assert.equal(sink.stored.get(0), 7, 'the failed write did commit its batch of 7')
  assert.deepEqual(await log.committedOffsets('sluice-connect.stopped-out', 'stopped-items'), sink.stored)
})
