/**
 * A poison record makes the runner rebuild the pipeline's tasks from their last commit (a
 * rewind). The rebuilt tasks keep every figure of the ones they replace: a counter of /metrics
 * that went back would read as a restart to Prometheus' rate() and to the dashboard, and the
 * late counter, the per-step counts and the latency "since start" would drop to zero.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { count, EmbeddedRunner, openEmbeddedLog, pipeline, topic, tumbling } from 'sluice'
import { mergedLatency, type PipelineMetrics } from '../../../src/runtime/metrics/snapshot.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Reading {
  sensor: string
  value: number | string
  at: number
}

const sum = (m: PipelineMetrics, f: (t: PipelineMetrics['tasks'][number]) => number) =>
  m.tasks.reduce((n, t) => n + f(t), 0)

function figures(m: PipelineMetrics) {
  const steps: Record<string, number> = {}
  for (const t of m.tasks) for (const s of t.steps) steps[s.step] = (steps[s.step] ?? 0) + s.recordsIn
  return {
    recordsIn: sum(m, (t) => t.recordsIn),
    late: sum(m, (t) => t.windows.reduce((n, w) => n + w.lateRecords, 0)),
    deadLetters: sum(m, (t) => t.deadLetters),
    latency: mergedLatency(m.tasks, 'latency').count,
    eventLatency: mergedLatency(m.tasks, 'eventLatency').count,
    busyMs: sum(m, (t) => t.busyMs),
    steps,
  }
}

test('a rewind after a poison record keeps late records, step counts, latency and busy time', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const readings = topic<Reading>('rw-readings', {
    key: (r) => r.sensor,
    timestamp: (r) => r.at,
    partitions: 2,
  })
  const p = pipeline('rw')
  p.from(readings, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    .map(
      (r) => {
        if (r.value === 'poison') throw new Error('poison')
        return r
      },
      { name: 'check' },
    )
    .keyBy((r) => r.sensor)
    .window(tumbling({ size: 1_000 }), { allowedLateness: 0, late: topic<Reading>('rw-late') })
    .aggregate(count(), { name: 'per-second' })
    .to(topic('rw-counts'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const producer = log.producer()
  const send = (list: Reading[]) =>
    producer.send(
      'rw-readings',
      list.map((r) => ({
        key: Buffer.from(r.sensor),
        value: Buffer.from(JSON.stringify(r)),
        partition: r.sensor === 's0' ? 0 : 1,
      })),
    )
  const running = runner.run()
  const until = async (what: string, check: () => boolean) => {
    const deadline = Date.now() + 10_000
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(figures(runner.metrics()[0]!))}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  try {
    const base = Date.now() - 10_000
    await send(Array.from({ length: 40 }, (_, i) => ({ sensor: `s${i % 4}`, value: i, at: base + i * 100 })))
    await until('40 records measured', () => figures(runner.metrics()[0]!).latency >= 40)
    // Behind every window the watermark has passed: one late record.
    await send([{ sensor: 's1', value: 0, at: base }])
    await until('the late record', () => figures(runner.metrics()[0]!).late === 1)
    const before = figures(runner.metrics()[0]!)
    assert.equal(before.steps.check, 41)

    await send([{ sensor: 's2', value: 'poison', at: base + 5_000 }])
    await until('the dead letter', () => figures(runner.metrics()[0]!).deadLetters === 1)
    await until('the rewind', () => runner.rewound > 0)
    const after = figures(runner.metrics()[0]!)
    assert.equal(after.late, 1, 'the late counter survives the rewind')
    assert.ok(after.recordsIn >= before.recordsIn, `records in ${before.recordsIn} → ${after.recordsIn}`)
    assert.ok(after.latency >= before.latency, `latency count ${before.latency} → ${after.latency}`)
    assert.ok(
      after.eventLatency >= before.eventLatency,
      `event latency ${before.eventLatency} → ${after.eventLatency}`,
    )
    assert.ok(after.busyMs >= before.busyMs, `busy ${before.busyMs} → ${after.busyMs} ms`)
    for (const [step, n] of Object.entries(before.steps))
      assert.ok((after.steps[step] ?? 0) >= n, `step ${step}: ${n} → ${after.steps[step]}`)
  } finally {
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})
