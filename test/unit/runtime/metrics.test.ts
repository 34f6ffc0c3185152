/**
 * Metrics against known inputs: the histogram's percentiles; a runner's lag after N records
 * it has not read; latency from injected timestamps; the late-record and open-window counters;
 * the Prometheus text and `sluice status` over a real server.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { count, EmbeddedRunner, openEmbeddedLog, pipeline, topic, tumbling } from 'sluice'
import { Histogram } from '../../../src/runtime/metrics/histogram.ts'
import { mergedLatency } from '../../../src/runtime/metrics/snapshot.ts'
import { TaskMetrics } from '../../../src/runtime/metrics/task-metrics.ts'
import { startServer } from '../../../src/server/server.ts'
import { parsePrometheus } from '../../helpers/prometheus-text.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

test('histogram: percentiles within 1/16 of the true value, merge adds exactly', () => {
  const h = new Histogram()
  for (let ms = 1; ms <= 1000; ms++) h.record(ms)
  for (const [q, exact] of [
    [0.5, 500],
    [0.9, 900],
    [0.99, 990],
    [0.999, 999],
  ] as const) {
    const got = h.percentile(q)
    assert.ok(got >= exact && got <= exact * (1 + 1 / 16), `p${q * 100} = ${got}, exact ${exact}`)
  }
  assert.equal(h.count, 1000)
  assert.equal(h.maxMs, 1000)
  const atOrBelow = h.countAtOrBelow(100)
  assert.ok(atOrBelow >= 100 && atOrBelow <= 107, `${atOrBelow} values ≤ 100 ms (bucket resolution)`)
  const other = new Histogram()
  other.record(5000)
  h.add(other.data())
  assert.equal(h.count, 1001)
  assert.equal(h.percentile(1), 5000)
  assert.equal(new Histogram().percentile(0.5), 0, 'empty')
  const tiny = new Histogram()
  tiny.record(0.004)
  tiny.record(-3) // clock skew counts as 0
  assert.equal(tiny.percentile(1), 0.004)
  // Event-time latency of replayed old data: days to years, still within 1/16 (not clipped).
  for (const days of [0.9, 30, 400, 1500]) {
    const old = new Histogram()
    const ms = days * 86_400_000
    old.record(ms)
    old.record(ms * 2)
    const p50 = old.percentile(0.5)
    assert.ok(p50 >= ms && p50 <= ms * (1 + 1 / 16), `${days} days: p50 ${p50} ms, exact ${ms}`)
  }
})

test('task latency: one record in four is kept, weighted, so the histograms count every record', () => {
  const m = new TaskMetrics(true)
  const now = 1_000_000
  // A commit of 10 records written 10…19 ms before it lands, and one of 3 through a
  // repartition topic (no log time), events 100 ms old.
  for (let i = 0; i < 10; i++) m.observe(now - 10 - i, now - 100)
  m.collected()
  for (let i = 0; i < 3; i++) m.observe(Number.NaN, now - 100)
  m.collected()
  m.landed(now)
  m.landed(now)
  assert.equal(m.latency.count, 10)
  assert.equal(m.eventLatency.count, 13)
  // Samples at 10, 14 and 18 ms stand for 4, 4 and 2 records.
  assert.ok(Math.abs(m.latency.sumMs - (10 * 4 + 14 * 4 + 18 * 2)) < 1e-9, `sum ${m.latency.sumMs}`)
  assert.equal(m.latency.maxMs, 18)
  assert.ok(m.eventLatency.percentile(0.5) >= 100 && m.eventLatency.percentile(0.5) <= 107)
})

interface Reading {
  sensor: string
  at: number
}

test('runner metrics: lag of unread records, latency from injected timestamps, late and open windows', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const readings = topic<Reading>('m-readings', {
    key: (r) => r.sensor,
    timestamp: (r) => r.at,
    partitions: 2,
  })
  const p = pipeline('m-count')
  p.from(readings, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    .keyBy((r) => r.sensor)
    .window(tumbling({ size: 1_000 }))
    .aggregate(count(), { name: 'per-second' })
    .to(topic('m-counts'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  // Event times 10 s ago: the event-time latency of each record is ~10 s.
  const base = Date.now() - 10_000
  const producer = log.producer()
  const sent = Array.from({ length: 50 }, (_, i) => ({ sensor: `s${i % 5}`, at: base + i * 100 }))
  await producer.send(
    'm-readings',
    sent.map((r) => ({
      key: Buffer.from(r.sensor),
      value: Buffer.from(JSON.stringify(r)),
      partition: r.sensor === 's0' ? 0 : 1,
    })),
  )
  const before = runner.metrics()[0]!
  const lag = before.tasks.flatMap((t) => t.positions).filter((x) => x.topic === 'm-readings')
  assert.deepEqual(
    lag.map((x) => x.lag).sort(),
    [10, 40],
    'lag = the records appended and not read, per partition',
  )
  const running = runner.run()
  try {
    const deadline = Date.now() + 10_000
    const processed = () => runner.metrics()[0]!.tasks.reduce((n, t) => n + t.recordsIn, 0)
    while (processed() < 100 || mergedLatency(runner.metrics()[0]!.tasks, 'latency').count < 50) {
      if (Date.now() > deadline) throw new Error(`processed ${processed()}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    // A record for a window the watermark has passed: late (it and its repartitioned copy make 102 in).
    await producer.send('m-readings', [
      {
        key: Buffer.from('s1'),
        value: Buffer.from(JSON.stringify({ sensor: 's1', at: base })),
        partition: 1,
      },
    ])
    while (
      runner.metrics()[0]!.tasks.reduce((n, t) => n + t.windows.reduce((m, w) => m + w.lateRecords, 0), 0) < 1
    ) {
      if (Date.now() > deadline) throw new Error('no late record counted')
      await new Promise((r) => setTimeout(r, 10))
    }
    const m = runner.metrics()[0]!
    const after = m.tasks.flatMap((t) => t.positions).filter((x) => x.topic === 'm-readings')
    assert.deepEqual(
      after.map((x) => x.lag),
      [0, 0],
    )
    const event = mergedLatency(m.tasks, 'eventLatency')
    // 100 = 50 source records + their 50 repartitioned copies downstream (each measured where it is processed).
    assert.ok(event.count >= 100)
    const p50 = event.percentile(0.5)
    assert.ok(p50 >= 5_000 && p50 <= 12_000, `event-time latency p50 ${p50} ms for events 10…5 s old`)
    const logLatency = mergedLatency(m.tasks, 'latency')
    assert.ok(logLatency.percentile(0.5) < 5_000, `log-time latency p50 ${logLatency.percentile(0.5)} ms`)
    // Windows still open: the last event times are within the last window.
    assert.ok(m.tasks.some((t) => t.windows.some((w) => w.openWindows > 0 && w.nextClose !== null)))
    assert.ok(m.tasks.every((t) => t.busyMs >= 0) && m.tasks.some((t) => t.busyMs > 0))

    const server = await startServer({ port: 0, log, runner })
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text()
      assert.match(text, /^# HELP sluice_records_in_total /m)
      assert.match(text, /^sluice_late_records_total\{pipeline="m-count",task="m-count\/1\/1"\} 1$/m)
      assert.match(
        text,
        /^sluice_consumer_lag_records\{pipeline="m-count",topic="m-readings",partition="0"\} 0$/m,
      )
      assert.match(text, /^sluice_latency_seconds_bucket\{pipeline="m-count",kind="event",le="\+Inf"\} \d+$/m)
      const commitCount = /^sluice_commit_seconds_count\{pipeline="m-count"\} (\d+)$/m.exec(text)
      assert.ok(commitCount && Number(commitCount[1]) > 0, 'commit durations are recorded')
      // The window store of the downstream tasks holds the open windows' entries.
      const entries = [
        ...text.matchAll(
          /^sluice_state_entries\{pipeline="m-count",task="m-count\/1\/\d",store="m-count\.per-second"\} (\d+)$/gm,
        ),
      ]
      assert.equal(entries.length, 2)
      assert.ok(entries.some((e) => Number(e[1]) > 0))
      // Every family's samples come together, after its one TYPE line.
      const families = text
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ')[2])
      assert.equal(new Set(families).size, families.length)
      const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))
      const status = async (...args: string[]) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(process.execPath, [cli, 'status', '--url', server.url, ...args], {
            stdio: ['ignore', 'pipe', 'inherit'],
          })
          let out = ''
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString()
          })
          child.on('exit', (code) => resolve({ code, out }))
        })
      const table = await status('--interval', '200')
      assert.equal(table.code, 0)
      const [header, row] = table.out.split('\n')
      assert.match(
        header!,
        /^pipeline\s+state\s+tasks\s+in\s+out\s+in\/s\s+out\/s\s+lag\s+lag s\s+watermark\s+open windows\s+late\s+dead letters$/,
      )
      assert.match(row!, /^m-count\s+running\s+4\s+102\s+\S+\s+0\s+0\s+0\s+0\.00\s+\S+\s+\d+\s+1\s+0$/)
      // The task, input, latency and commit tables follow.
      for (const h of [
        /^pipeline\s+latency\s+measured\s+p50 ms/m,
        /^pipeline\s+commits\s+commits\/s/m,
        /^task\s+in\s+out/m,
        /^task\s+input\s+watermark/m,
      ])
        assert.match(table.out, h)
      assert.match(
        table.out,
        /^m-count\/1\/1\s+\S+\s+\S+\s+\S+\s+\S+\s+0\s+\S+\s+\d+\s+\S+\s+1\s+0\s+\d+\s+0\s+/m,
      )

      // --json and /metrics give the same figures (nothing arrives meanwhile).
      const json = await status('--json')
      assert.equal(json.code, 0)
      const api = JSON.parse(json.out) as {
        pipelines: Array<{
          commits: number
          latency: { count: number }
          commitDuration: { count: number; p99: number }
          tasks: Array<{
            id: string
            recordsIn: number
            recordsOut: number
            deadLetters: number
            asyncInFlight: number
          }>
        }>
      }
      const prom = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text())
      const [pj] = api.pipelines
      assert.equal(pj!.commits, prom.value('sluice_commits_total', { pipeline: 'm-count' }))
      assert.equal(
        pj!.latency.count,
        prom.value('sluice_latency_seconds_count', { pipeline: 'm-count', kind: 'append' }),
      )
      assert.equal(
        pj!.commitDuration.count,
        prom.value('sluice_commit_seconds_count', { pipeline: 'm-count' }),
      )
      for (const t of pj!.tasks) {
        const tl = { pipeline: 'm-count', task: t.id }
        assert.equal(t.recordsIn, prom.value('sluice_records_in_total', tl))
        assert.equal(t.recordsOut, prom.value('sluice_records_out_total', tl))
        assert.equal(t.deadLetters, prom.value('sluice_dead_letters_total', tl))
        assert.equal(t.asyncInFlight, prom.value('sluice_async_in_flight', tl))
      }
    } finally {
      await server.close()
    }
  } finally {
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})

test('sluice status says what is wrong when nothing answers', async () => {
  const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))
  const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, 'status', '--url', 'http://127.0.0.1:1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.on('exit', (code) => resolve({ code, err }))
  })
  assert.equal(result.code, 1)
  assert.match(result.err, /no sluice answers at http:\/\/127\.0\.0\.1:1 .*is "sluice run" running there\?/)
})

test('backpressure: time blocked on a slow mapAsync is counted per task', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const input = topic<{ n: number }>('m-slow-in', { partitions: 1 })
  const p = pipeline('m-slow')
  p.from(input)
    .mapAsync(
      async (v) => {
        await new Promise((r) => setTimeout(r, 40))
        return v
      },
      { concurrency: 1, name: 'lookup' },
    )
    .to(topic('m-slow-out'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const producer = log.producer()
  await producer.send(
    'm-slow-in',
    Array.from({ length: 6 }, (_, n) => ({ value: Buffer.from(JSON.stringify({ n })) })),
  )
  const running = runner.run()
  try {
    const deadline = Date.now() + 10_000
    while (runner.status()[0]!.recordsOut < 6) {
      if (Date.now() > deadline) throw new Error(`out: ${runner.status()[0]!.recordsOut}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    const [task] = runner.metrics()[0]!.tasks
    // Six calls of 40 ms one at a time: the task waited for at least four of them.
    assert.ok(task!.blockedMs >= 150, `blocked ${task!.blockedMs} ms`)
  } finally {
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})

test('per-step figures: records into each step of a chain, on the runner and in /metrics', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const input = topic<{ n: number }>('s-numbers', { partitions: 1 })
  const p = pipeline('m-steps')
  p.from(input)
    .filter((v) => v.n % 3 === 0, { name: 'thirds' })
    .map((v) => ({ n: v.n * 2 }), { name: 'double' })
    .flatMap((v) => [v, v], { name: 'twice' })
    .filter((v) => v.n > 0, { name: 'positive' })
    .to(topic('s-out'))
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const producer = log.producer()
  await producer.send(
    's-numbers',
    Array.from({ length: 30 }, (_, n) => ({ key: null, value: Buffer.from(JSON.stringify({ n })) })),
  )
  const running = runner.run()
  try {
    const steps = () => {
      const counts: Record<string, number> = {}
      for (const t of runner.metrics()[0]!.tasks)
        for (const s of t.steps) counts[s.step] = (counts[s.step] ?? 0) + s.recordsIn
      return counts
    }
    const deadline = Date.now() + 10_000
    while ((steps()['sink-0'] ?? 0) < 18) {
      if (Date.now() > deadline) throw new Error(`steps so far: ${JSON.stringify(steps())}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    // 30 in; n = 0, 3, …, 27 pass (10); doubled (10); twice (20); n > 0 drops the two zeros (18).
    assert.deepEqual(steps(), { thirds: 30, double: 10, twice: 10, positive: 20, 'sink-0': 18 })
    const server = await startServer({ port: 0, log, runner })
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text()
      assert.match(
        text,
        /^sluice_step_records_in_total\{pipeline="m-steps",task="m-steps\/0\/0",step="twice"\} 10$/m,
      )
    } finally {
      await server.close()
    }
  } finally {
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})
