import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  count,
  type EmbeddedLog,
  EmbeddedRunner,
  hopping,
  isSluiceError,
  openEmbeddedLog,
  pipeline,
  topic,
  tumbling,
} from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Click {
  user: string
  at: number
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v))
const decoded = (log: EmbeddedLog, name: string) => {
  const out: unknown[] = []
  for (const p of log.partitionsOf(name)) {
    let offset = p.startOffset
    for (;;) {
      const batch = log.read(p.tp, offset)
      if (batch.length === 0) break
      for (const r of batch) out.push(r.value === null ? null : JSON.parse(Buffer.from(r.value).toString()))
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Starts a runner in the background; returns a stop function that resolves after the final commit. */
const live = new Set<EmbeddedRunner>()
// A failed assertion must not leave a runner looping: that would keep the test file alive.
after(() => {
  for (const r of live) r.stop()
})

async function start(log: EmbeddedLog, p: ReturnType<typeof pipeline>) {
  const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 2 })
  live.add(runner)
  await runner.start()
  const running = runner.run()
  return {
    runner,
    running,
    stop: async () => {
      runner.stop()
      await running
    },
  }
}

describe('the embedded runner', () => {
  test('windows keep their state across a restart: counts span two runs exactly', async () => {
    const dir = tempDir()
    const clicks = topic<Click>('clicks', { timestamp: (c) => c.at, partitions: 2 })
    const counts = topic<{ key: string; start: number; value: number }>('click-counts')
    const build = () => {
      const p = pipeline('restartable')
      p.from(clicks, { watermark: { idleAfter: '1h' } })
        .keyBy((c) => c.user)
        .window(tumbling({ size: 1_000 }))
        .aggregate(count(), { name: 'per-second' })
        .to(counts)
      return p
    }
    let log = await openEmbeddedLog({ dataDir: dir })
    await log.createTopic('clicks', { partitions: 2 })
    const producer = () => log.producer()
    // First run: 3 clicks of a and 2 of b in [0, 1000); nothing closes yet.
    const first = [0, 100, 200]
      .map((at) => ({ user: 'a', at }))
      .concat([300, 400].map((at) => ({ user: 'b', at })))
    await producer().send(
      'clicks',
      first.map((c) => ({ key: Buffer.from(c.user), value: json(c) })),
    )
    let run = await start(log, build())
    await until(() => run.runner.status()[0]!.lag === 0, 'first batch')
    await run.stop()
    assert.deepEqual(decoded(log, 'click-counts'), [])
    await log.close()

    // Second run after a restart: 1 more click of a in the same window, then a click at 5000
    // on each partition moves the watermark of both past 1000 and closes the window. (Both
    // partitions: an empty one would rightly hold the watermark back.)
    log = await openEmbeddedLog({ dataDir: dir })
    run = await start(log, build())
    try {
      await producer().send('clicks', { key: Buffer.from('a'), value: json({ user: 'a', at: 900 }) })
      await producer().send('clicks', [
        { key: Buffer.from('a'), value: json({ user: 'a', at: 5_000 }), partition: 0 },
        { key: Buffer.from('b'), value: json({ user: 'b', at: 5_000 }), partition: 1 },
      ])
      await until(() => decoded(log, 'click-counts').length === 2, 'window results')
    } finally {
      await run.stop()
    }
    const results = (
      decoded(log, 'click-counts') as Array<{ key: string; start: number; value: number }>
    ).sort((x, y) => x.key.localeCompare(y.key))
    assert.deepEqual(results, [
      { key: 'a', start: 0, end: 1_000, value: 4 },
      { key: 'b', start: 0, end: 1_000, value: 2 },
    ])
    await log.close()
  })

  test('mapAsync keeps input order, respects its concurrency and commits its results', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const numbers = topic<number>('numbers', { partitions: 1 })
    const looked = topic<{ n: number; square: number }>('looked-up')
    let inFlight = 0
    let peak = 0
    const p = pipeline('lookups')
    p.from(numbers)
      .mapAsync(
        async (n) => {
          inFlight++
          peak = Math.max(peak, inFlight)
          // Later numbers finish first: order must still be kept.
          await new Promise((r) => setTimeout(r, (50 - (n % 50)) / 10))
          inFlight--
          return { n, square: n * n }
        },
        { concurrency: 4, name: 'square-service' },
      )
      .to(looked)
    await log.createTopic('numbers', { partitions: 1 })
    await log.producer().send(
      'numbers',
      Array.from({ length: 200 }, (_, n) => ({ value: json(n) })),
    )
    const run = await start(log, p)
    await until(() => decoded(log, 'looked-up').length === 200, 'async results')
    await run.stop()
    assert.deepEqual(
      decoded(log, 'looked-up'),
      Array.from({ length: 200 }, (_, n) => ({ n, square: n * n })),
    )
    assert.ok(peak <= 4, `peak concurrency ${peak}`)
    assert.ok(peak >= 2, `calls overlapped (peak ${peak})`)
    await log.close()
  })

  test('errors.retries: a mapAsync call that fails is retried with backoff; past the retries it is a dead letter', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const ids = topic<number>('flaky-ids', { partitions: 1 })
    const out = topic<string>('flaky-out')
    // Record n fails its first n calls: 0, 1 and 2 succeed within 2 retries, 3 does not.
    const calls = new Map<number, number[]>()
    const p = pipeline('flaky', { errors: { retries: 2, backoff: 20 } })
    p.from(ids)
      .mapAsync(
        async (n) => {
          const at = calls.get(n) ?? []
          at.push(Date.now())
          calls.set(n, at)
          if (at.length <= n) throw new Error(`service unavailable for ${n}`)
          return `ok ${n}`
        },
        { name: 'flaky-service' },
      )
      .to(out)
    await log.createTopic('flaky-ids', { partitions: 1 })
    await log.producer().send(
      'flaky-ids',
      [0, 1, 2, 3].map((n) => ({ value: json(n) })),
    )
    const run = await start(log, p)
    await until(
      () => run.runner.status()[0]!.deadLetters === 1 && decoded(log, 'flaky-out').length === 3,
      'results',
    )
    await run.stop()
    assert.deepEqual(decoded(log, 'flaky-out'), ['ok 0', 'ok 1', 'ok 2'])
    assert.deepEqual(
      [...calls].map(([n, at]) => [n, at.length]),
      [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 3],
      ],
      'each call made once, then retried at most twice',
    )
    // Backoff 20 ms, then 40 ms (timers may fire a millisecond early).
    const [a, b, c] = calls.get(2)!
    assert.ok(b! - a! >= 19 && c! - b! >= 39, `waits ${b! - a!} and ${c! - b!} ms`)
    await log.close()
  })

  test('a slow step slows reading: memory stays bounded while a fast producer appends', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), durability: 'interval' })
    const input = topic<{ i: number; pad: string }>('firehose', { partitions: 1 })
    const out = topic<number>('trickle')
    const p = pipeline('slow')
    p.from(input)
      .mapAsync(
        async (r) => {
          await new Promise((res) => setTimeout(res, 1))
          return r.i
        },
        { concurrency: 2 },
      )
      .to(out)
    await log.createTopic('firehose', { partitions: 1 })
    const run = await start(log, p)
    global.gc?.()
    const before = process.memoryUsage().heapUsed
    let peak = 0
    const pad = 'x'.repeat(1_000)
    const producer = log.producer()
    // ~100 MB offered in 1.5 s; the pipeline can only take a few thousand records per second.
    const deadline = Date.now() + 1_500
    let sent = 0
    while (Date.now() < deadline) {
      await producer.send(
        'firehose',
        Array.from({ length: 5_000 }, () => ({ value: json({ i: sent++, pad }) })),
      )
      peak = Math.max(peak, process.memoryUsage().heapUsed - before)
    }
    const status = run.runner.status()[0]!
    await run.stop()
    assert.ok(sent >= 20_000, `producer sent ${sent}`)
    assert.ok(
      status.lag > sent / 2,
      `the pipeline is far behind (lag ${status.lag} of ${sent}), so reading was throttled`,
    )
    assert.ok(peak < 80 * 1024 * 1024, `heap grew by ${Math.round(peak / 1e6)} MB`)
    await log.close()
  })

  test('a poison record goes to the dead-letter topic and the partition keeps flowing', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const orders = topic<{ id: number; qty: number }>('orders', { partitions: 1 })
    const priced = topic<{ id: number; total: number }>('priced')
    const p = pipeline('pricing')
    p.from(orders)
      .map(
        (o) => {
          if (o.qty < 0) throw new Error(`negative quantity ${o.qty}`)
          return { id: o.id, total: o.qty * 10 }
        },
        { name: 'price' },
      )
      .to(priced)
    await log.createTopic('orders', { partitions: 1 })
    await log
      .producer()
      .send('orders', [
        { value: json({ id: 1, qty: 2 }) },
        { value: Buffer.from('{not json') },
        { value: json({ id: 2, qty: -1 }) },
        { value: json({ id: 3, qty: 1 }) },
      ])
    const run = await start(log, p)
    await until(() => decoded(log, 'priced').length === 2, 'good records')
    await until(
      () => log.partition({ topic: 'pricing-dlq', partition: 0 }).highWatermark === 2,
      'dead letters',
    )
    await run.stop()
    assert.deepEqual(decoded(log, 'priced'), [
      { id: 1, total: 20 },
      { id: 3, total: 10 },
    ])
    const dead = log.read({ topic: 'pricing-dlq', partition: 0 }, 0)
    assert.equal(Buffer.from(dead[0]!.value!).toString(), '{not json')
    assert.match(dead[0]!.headers['sluice-error']!, /could not be decoded/)
    assert.equal(dead[0]!.headers['sluice-source-offset'], '1')
    assert.equal(dead[1]!.headers['sluice-operator'], 'price')
    assert.match(dead[1]!.headers['sluice-error']!, /negative quantity -1/)
    assert.equal(dead[1]!.headers['sluice-source-topic'], 'orders')
    assert.equal(dead[1]!.headers['sluice-source-offset'], '2')
    await log.close()
  })

  test('under the stop policy a failure stops the pipeline and commits nothing of it', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const input = topic<number>('strict-in', { partitions: 1 })
    const output = topic<number>('strict-out')
    const p = pipeline('strict', { errors: { afterRetries: 'stop' } })
    p.from(input)
      .map((n) => {
        if (n === 3) throw new Error('three is not allowed')
        return n
      })
      .to(output)
    await log.createTopic('strict-in', { partitions: 1 })
    await log.producer().send(
      'strict-in',
      [1, 2, 3, 4].map((n) => ({ value: json(n) })),
    )
    const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 1_000 })
    await runner.start()
    await assert.rejects(
      runner.run(),
      /stopped \(error policy "stop"\): step "map-0" failed: three is not allowed/,
    )
    assert.deepEqual(decoded(log, 'strict-out'), [], 'the batch with the failure was not committed')
    assert.equal((await log.committedOffsets('strict', 'strict-in')).size, 0)
    await log.close()
  })

  test('on a light load an output commits as soon as the input is drained, not after the interval', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const input = topic<{ n: number }>('light-in')
    const p = pipeline('light')
    p.from(input)
      .map((v) => ({ n: v.n * 2 }))
      .to(topic('light-out'))
    await log.createTopic('light-in', { partitions: 1 })
    // An interval far longer than the test: only the drained-input rule can commit in time.
    const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 600_000 })
    live.add(runner)
    await runner.start()
    const running = runner.run()
    const producer = log.producer()
    for (const n of [1, 2, 3]) {
      await producer.send('light-in', { value: json({ n }) })
      await until(() => decoded(log, 'light-out').length === n, `output ${n} committed`, 5_000)
    }
    assert.deepEqual(decoded(log, 'light-out'), [{ n: 2 }, { n: 4 }, { n: 6 }])
    runner.stop()
    await running
    await log.close()
  })

  test('an unknown source topic is a clear error; mismatched partition counts are refused', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const p = pipeline('orphan')
    p.from(topic('missing-topic')).to(topic('sink'))
    await assert.rejects(
      new EmbeddedRunner(log, [p]).start(),
      /reads topic "missing-topic", which does not exist/,
    )
    await log.createTopic('left', { partitions: 2 })
    await log.createTopic('right', { partitions: 3 })
    const q = pipeline('mixed')
    q.from(topic('left'))
      .merge(q.from(topic('right')))
      .to(topic('both'))
    await assert.rejects(new EmbeddedRunner(log, [q]).start(), /left \(2\), right \(3\).*co-partitioning/)
    await log.close()
  })
})

describe('hopping windows on panes, on the log', () => {
  test('a step changed so it can no longer read its panes refuses to start, saying what to do', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const clicks = topic<{ user: string; at: number }>('pane-clicks', {
      key: (c) => c.user,
      timestamp: (c) => c.at,
      partitions: 1,
    })
    const build = (emit: 'final' | 'update') => {
      const p = pipeline('pane-counts')
      p.from(clicks)
        .keyed()
        .window(hopping({ size: '1s', advance: '250ms' }), { emit })
        .aggregate(count(), { name: 'per-second' })
        .to(topic('pane-counts-out'))
      return p
    }
    await log.createTopic('pane-clicks', { partitions: 1 })
    await log.producer().send(
      'pane-clicks',
      Array.from({ length: 40 }, (_, i) => ({ value: json({ user: `u${i % 3}`, at: i * 100 }) })),
    )
    const first = await start(log, build('final'))
    await until(
      () => first.runner.status()[0]!.lag === 0 && first.runner.status()[0]!.commits > 0,
      'first run',
    )
    await first.stop()
    const changed = new EmbeddedRunner(log, [build('update')])
    live.add(changed)
    await assert.rejects(
      changed.start(),
      (e) =>
        isSluiceError(e, 'SLUICE_INVALID_ARGUMENT') &&
        /window step "per-second" has state kept as panes/.test(e.message) &&
        /new name/.test(e.message),
    )
    await log.close()
  })
})
