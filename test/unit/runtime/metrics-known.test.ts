/**
 * The runner's figures against inputs whose answers are known in advance: per input partition
 * the watermark, newest event time and idleness; a window's open windows and next close; the
 * state entries they hold; records out; lag in records and seconds after a
 * stop; mapAsync calls in flight. (metrics.test.ts has lag before a run, latency from injected
 * timestamps, late records, busy and blocked time, per-step counts; metrics-rewind.test.ts
 * dead letters.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { count, EmbeddedRunner, openEmbeddedLog, pipeline, topic, tumbling } from 'sluice'
import { mergedLatency, type PipelineMetrics } from '../../../src/runtime/metrics/snapshot.ts'
import { renderPrometheus } from '../../../src/server/prometheus.ts'
import { parsePrometheus } from '../../helpers/prometheus-text.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Reading {
  sensor: string
  value: number | string
  at: number
}

async function until(what: string, check: () => boolean, show: () => unknown): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(show())}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('watermark, idleness, windows, state, records out and lag from known records', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const readings = topic<Reading>('k-readings', {
    key: (r) => r.sensor,
    timestamp: (r) => r.at,
    partitions: 2,
  })
  const p = pipeline('k')
  p.from(readings, { watermark: { maxOutOfOrder: 1_000, idleAfter: '3s' } })
    .keyed()
    .window(tumbling({ size: 1_000 }))
    .aggregate(count(), { name: 'per-second' })
    .to(topic('k-counts'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const producer = log.producer()
  // Event times a minute ago, on a whole second; log times set by the producer, 10 s ago.
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000
  const logTime = Date.now() - 10_000
  const send = (list: Reading[], timestamp = logTime) =>
    producer.send(
      'k-readings',
      list.map((r) => ({
        key: Buffer.from(r.sensor),
        value: Buffer.from(JSON.stringify(r)),
        partition: 0,
        timestamp,
      })),
    )
  const metrics = (): PipelineMetrics => runner.metrics()[0]!
  const task = (partition: number) => metrics().tasks.find((t) => t.partition === partition)!
  const running = runner.run()
  let stopped = false
  try {
    // Windows [t0, t0+1s), [t0+1s, t0+2s), [t0+2s, t0+3s); the watermark is t0+2.5s − 1s.
    await send([
      { sensor: 'a', value: 1, at: t0 + 100 },
      { sensor: 'a', value: 2, at: t0 + 1_200 },
      { sensor: 'a', value: 3, at: t0 + 2_500 },
    ])
    await until(
      'three records in',
      () => task(0).recordsIn === 3,
      () => task(0),
    )
    await until(
      'the first window out',
      () => task(0).recordsOut === 1,
      () => task(0),
    )
    const t = task(0)
    const [input] = t.inputs
    assert.equal(input!.channel, 'k-readings/0')
    assert.equal(input!.maxEventTime, t0 + 2_500)
    assert.equal(input!.watermark, t0 + 1_500)
    assert.equal(input!.idle, false, 'records arrived under idleAfter ago')
    assert.equal(t.watermark, t0 + 1_500)
    // [t0, t0+1s) closed at watermark t0+1.5s and went out; the other two are open, and the
    // next to close ends at t0+2s.
    assert.deepEqual(t.windows, [{ openWindows: 2, nextClose: t0 + 2_000, lateRecords: 0 }])
    await until(
      'the window store to hold the two open windows',
      () => task(0).stores.find((s) => s.store === 'k.per-second')?.entries === 2,
      () => task(0).stores,
    )
    // Partition 1 never had a record: no watermark, and idle after idleAfter.
    assert.equal(task(1).inputs[0]!.watermark, null)
    await until(
      'partition 1 to go idle',
      () => task(1).inputs[0]!.idle,
      () => task(1).inputs,
    )

    runner.stop()
    await running
    stopped = true
    // Three records appended after the stop: lag 3, and the last one processed was written at logTime.
    await send(
      [1, 2, 3].map((i) => ({ sensor: 'a', value: i, at: t0 + 3_000 + i })),
      logTime + 5_000,
    )
    const after = runner.metrics()
    const [position] = after[0]!.tasks.find((x) => x.partition === 0)!.positions
    assert.deepEqual(position, {
      topic: 'k-readings',
      partition: 0,
      position: 3,
      lag: 3,
      lastLogTime: logTime,
    })
    const now = Date.now()
    const m = parsePrometheus(
      renderPrometheus(
        after,
        [],
        { subscriptionsOpen: 0, subscriptionsDropped: 0, ingestQueuedBytes: 0 },
        now,
      ),
    )
    const ll = { pipeline: 'k', topic: 'k-readings', partition: '0' }
    assert.equal(m.value('sluice_consumer_lag_records', ll), 3)
    assert.equal(m.value('sluice_consumer_lag_seconds', ll), (now - logTime) / 1000)
    assert.equal(m.value('sluice_consumer_lag_records', { ...ll, partition: '1' }), 0)
    assert.equal(m.value('sluice_records_out_total', { pipeline: 'k', task: 'k/0/0' }), 1)
    assert.equal(m.value('sluice_open_windows', { pipeline: 'k', task: 'k/0/0' }), 2)
    assert.equal(m.value('sluice_input_idle', { pipeline: 'k', task: 'k/0/1', input: 'k-readings/1' }), 1)
  } finally {
    if (!stopped) {
      runner.stop()
      await running
    }
    await producer.close()
    await log.close()
  }
})

test('mapAsync calls in flight: the concurrency limit while a service is slow, 0 once it answers', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const input = topic<{ n: number }>('k-async-in', { partitions: 1 })
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  const p = pipeline('k-async')
  p.from(input)
    .mapAsync(
      async (v) => {
        await gate
        return v
      },
      { concurrency: 3, name: 'lookup' },
    )
    .to(topic('k-async-out'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const producer = log.producer()
  await producer.send(
    'k-async-in',
    Array.from({ length: 8 }, (_, n) => ({ value: Buffer.from(JSON.stringify({ n })) })),
  )
  const running = runner.run()
  const task = () => runner.metrics()[0]!.tasks[0]!
  try {
    await until('three calls in flight', () => task().asyncInFlight === 3, task)
    // It stays at the limit while the service does not answer.
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(task().asyncInFlight, 3)
    assert.equal(task().recordsOut, 0)
    release()
    await until('all eight out', () => task().recordsOut === 8, task)
    assert.equal(task().asyncInFlight, 0)
  } finally {
    release()
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})

test('append-time latency counts from when the log stored a record, not from the timestamp its producer gave', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const input = topic<{ n: number; at: number }>('k-append-in', { partitions: 1, timestamp: (v) => v.at })
  const p = pipeline('k-append')
  p.from(input).to(topic('k-append-out'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const producer = log.producer()
  // Events an hour old, stamped with their event time by the producer (as ingest does).
  const hourAgo = Date.now() - 3_600_000
  await producer.send(
    'k-append-in',
    Array.from({ length: 40 }, (_, n) => ({
      value: Buffer.from(JSON.stringify({ n, at: hourAgo })),
      timestamp: hourAgo,
    })),
  )
  const appended = Date.now()
  const running = runner.run()
  try {
    await until(
      'all 40 measured',
      () => mergedLatency(runner.metrics()[0]!.tasks, 'latency').count === 40,
      () => runner.metrics()[0]!.tasks[0],
    )
    const tasks = runner.metrics()[0]!.tasks
    const append = mergedLatency(tasks, 'latency')
    const event = mergedLatency(tasks, 'eventLatency')
    const waited = Date.now() - appended
    // From the append: no more than the time since the send returned (plus the send itself).
    assert.ok(append.maxMs <= waited + 1_000, `append-time max ${append.maxMs} ms, waited ${waited} ms`)
    // From the event time: the hour.
    assert.ok(event.percentile(0.5) >= 3_600_000, `event-time p50 ${event.percentile(0.5)} ms`)
    const prom = parsePrometheus(
      renderPrometheus(
        [runner.metrics()[0]!],
        [],
        { subscriptionsOpen: 0, subscriptionsDropped: 0, ingestQueuedBytes: 0 },
        Date.now(),
      ),
    )
    assert.equal(prom.value('sluice_latency_seconds_count', { pipeline: 'k-append', kind: 'append' }), 40)
    assert.equal(prom.value('sluice_latency_seconds_count', { pipeline: 'k-append', kind: 'event' }), 40)
  } finally {
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})
