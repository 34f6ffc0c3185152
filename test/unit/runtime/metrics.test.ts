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
import { startServer } from '../../../src/server/server.ts'
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
      const status = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, 'status', '--url', server.url, '--interval', '200'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        })
        let out = ''
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
        })
        child.on('exit', (code) => resolve({ code, out }))
      })
      assert.equal(status.code, 0)
      const [header, row] = status.out.split('\n')
      assert.match(
        header!,
        /^pipeline\s+state\s+tasks\s+in\s+out\s+in\/s\s+lag\s+watermark\s+p50 ms\s+p99 ms\s+late\s+dead letters$/,
      )
      assert.match(row!, /^m-count\s+running\s+4\s+102\s+\S+\s+0\s+0\s+\S+\s+[\d.]+\s+[\d.]+\s+1\s+0$/)
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
