/**
 * The EmbeddedRunner's in-memory exchange (runtime/exchange.ts): a keyBy's records go from
 * task to task in memory and the pipeline commits exactly what it commits through the log —
 * two keyBys in a row, a record rolled back when a later branch fails, mapAsync results that
 * arrive while a commit drains, and a repartition topic another run left records in.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import {
  count,
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  partitionForKey,
  pipeline,
  topic,
  tumbling,
} from 'sluice'
import { compile } from '../../../src/topology/compile.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Click {
  user: string
  page: string
  at: number
  poison?: boolean
}

interface Top {
  start: number
  page: string
  n: number
}

const PAGES = ['home', 'cart', 'pay', 'search', 'help']
const SECOND = 1_000

/** 3,000 clicks over 30 s of event time, a poison one every 97th; then one far later per partition. */
function clicks(): Click[] {
  const out: Click[] = []
  for (let i = 0; i < 3_000; i++)
    out.push({
      user: `u${i % 13}`,
      page: PAGES[(i * 7) % 5 === 0 ? 0 : i % 5]!,
      at: i * 10,
      poison: i % 97 === 5,
    })
  // One far-off click per partition: every earlier second closes on both.
  out.push({ user: 'u0', page: 'home', at: 1_000_000 }, { user: 'u1', page: 'home', at: 1_000_000 })
  return out
}

/** Per second: the page with the most clicks (lowest name on a tie), from a plain loop. */
function expected(input: readonly Click[], extra: readonly Click[] = []): Top[] {
  const closedBefore = Math.floor(1_000_000 / SECOND) * SECOND // the last click's window stays open
  const counts = new Map<number, Map<string, number>>()
  for (const c of [...input, ...extra]) {
    if (c.poison) continue
    const start = Math.floor(c.at / SECOND) * SECOND
    if (start >= closedBefore) continue
    const m = counts.get(start) ?? new Map<string, number>()
    m.set(c.page, (m.get(c.page) ?? 0) + 1)
    counts.set(start, m)
  }
  return [...counts]
    .map(([start, m]) => {
      const [page, n] = [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!
      return { start, page, n }
    })
    .sort((a, b) => a.start - b.start)
}

const logs: EmbeddedLog[] = []
after(async () => {
  for (const log of logs) await log.close()
})

/**
 * Clicks → keyBy(page) → count per second → keyBy(window start) → the top page per second.
 * A second branch of the same stream fails on a poison click after the keyBy has taken it,
 * so its repartitioned copy must be rolled back. With `slow`, a mapAsync comes first.
 */
function build(name: string, slow: boolean) {
  const input = topic<Click>(`${name}-clicks`, { timestamp: (c) => c.at, partitions: 2 })
  const tops = topic<Top>(`${name}-tops`)
  const checked = topic<Click>(`${name}-checked`)
  const p = pipeline(name)
  const source = p.from(input, { watermark: { idleAfter: '1h' } })
  const clicks = slow
    ? source.mapAsync(
        async (c) => {
          await new Promise((r) => setTimeout(r, c.at % 3))
          return c
        },
        { concurrency: 8 },
      )
    : source
  clicks
    .keyBy((c) => c.page, { name: 'by-page' })
    .window(tumbling({ size: SECOND }))
    .aggregate(count(), { name: 'per-page' })
    .keyBy((w) => w.start, { name: 'by-second' })
    .window(tumbling({ size: SECOND }))
    .aggregate<{ page: string; n: number }>(
      {
        init: () => ({ page: '', n: -1 }),
        add: (top, w) =>
          w.value > top.n || (w.value === top.n && w.key < top.page) ? { page: w.key, n: w.value } : top,
      },
      { name: 'top-page' },
    )
    .map((w) => ({ start: w.start, page: w.value.page, n: w.value.n }))
    .to(tops)
  clicks
    .map((c) => {
      if (c.poison) throw new Error('poison click')
      return c
    })
    .to(checked)
  return { p, input, tops }
}

async function runToEnd(
  log: EmbeddedLog,
  runner: EmbeddedRunner,
  outTopic: string,
  want: number,
): Promise<void> {
  await runner.start()
  const running = runner.run()
  const deadline = Date.now() + 30_000
  while (readAll(log, outTopic).length < want || runner.status()[0]!.lag > 0) {
    if (Date.now() > deadline) {
      runner.stop()
      await running
      throw new Error(`timed out: ${readAll(log, outTopic).length} of ${want} outputs`)
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  runner.stop()
  await running
}

function readAll(log: EmbeddedLog, name: string): unknown[] {
  const out: unknown[] = []
  for (const p of log.partitionsOf(name)) {
    for (let offset = p.startOffset; ; ) {
      const batch = log.read(p.tp, offset)
      if (batch.length === 0) break
      for (const r of batch) if (r.value !== null) out.push(JSON.parse(Buffer.from(r.value).toString()))
      offset = batch.at(-1)!.offset + 1
    }
  }
  return out
}

const ends = (log: EmbeddedLog, name: string) => log.partitionsOf(name).map((p) => p.nextOffset)
const byStart = (rows: unknown[]) => (rows as Top[]).slice().sort((a, b) => a.start - b.start)

async function send(log: EmbeddedLog, name: string, rows: readonly Click[]): Promise<void> {
  const producer = log.producer()
  await producer.send(
    name,
    rows.map((c, i) => ({
      key: Buffer.from(c.user),
      value: Buffer.from(JSON.stringify(c)),
      partition: i % 2,
    })),
  )
  await producer.close()
}

for (const slow of [false, true]) {
  test(`in memory or through the log, two keyBys commit the same results${slow ? ' (after a mapAsync)' : ''}; in memory the repartition topics stay empty`, async () => {
    const input = clicks()
    const want = expected(input)
    for (const exchange of [true, false]) {
      const name = `ex-${slow ? 'slow' : 'fast'}-${exchange ? 'mem' : 'log'}`
      const log = await openEmbeddedLog({ dataDir: tempDir() })
      logs.push(log)
      const { p, input: inTopic, tops } = build(name, slow)
      await log.createTopic(inTopic.name, { partitions: 2 })
      await send(log, inTopic.name, input)
      const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 5, exchange })
      await runToEnd(log, runner, tops.name, want.length)
      assert.deepEqual(byStart(readAll(log, tops.name)), want, `${name}: the top page of every closed second`)
      const dlq = readAll(log, compile(p).deadLetterTopic)
      assert.equal(dlq.length, input.filter((c) => c.poison).length, `${name}: each poison click once`)
      const written = compile(p).repartitionTopics.flatMap(({ topic }) => ends(log, topic))
      if (exchange)
        assert.ok(
          written.every((n) => n === 0),
          `${name}: nothing in the log (${written})`,
        )
      else
        assert.ok(
          written.every((n) => n > 0),
          `${name}: every repartition partition written (${written})`,
        )
    }
  })
}

test('records another run left in a repartition topic are read first; that run goes through the log', async () => {
  const input = clicks()
  // What a threaded run would have left: clicks already repartitioned by page, not yet read.
  const left: Click[] = Array.from({ length: 40 }, (_, i) => ({ user: 'x', page: 'help', at: 5_000 + i }))
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  logs.push(log)
  const { p, input: inTopic, tops } = build('ex-left', false)
  await log.createTopic(inTopic.name, { partitions: 2 })
  await send(log, inTopic.name, input)
  const byPage = compile(p).repartitionTopics[0]!.topic
  await log.createTopic(byPage, { partitions: 2 })
  const producer = log.producer()
  await producer.send(
    byPage,
    left.map((c) => ({
      key: Buffer.from(c.page),
      value: Buffer.from(JSON.stringify(c)),
      timestamp: c.at,
      partition: partitionForKey(Buffer.from(c.page), 2),
    })),
  )
  await producer.close()
  const want = expected(input, left)
  const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 5 })
  await runToEnd(log, runner, tops.name, want.length)
  assert.deepEqual(byStart(readAll(log, tops.name)), want, 'the records left count, each once')
  const written = ends(log, byPage).reduce((a, b) => a + b, 0)
  assert.ok(written > left.length + input.length / 2, `this run went through the log (${written} records)`)
})

test('a poison record after the keyBy: its state changes are rolled back, it is dead-lettered once, and the keyBy then goes through the log', async () => {
  const input = clicks()
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  logs.push(log)
  const inTopic = topic<Click>('ex-late-clicks', { timestamp: (c) => c.at, partitions: 2 })
  const totals = topic<{ key: string; value: number }>('ex-late-totals')
  const p = pipeline('ex-late')
  p.from(inTopic, { watermark: { idleAfter: '1h' } })
    .keyBy((c) => c.page, { name: 'by-page' })
    .aggregate<{ n: number; poison: boolean }>(
      {
        init: () => ({ n: 0, poison: false }),
        add: (a, c: Click) => ({ n: a.n + 1, poison: c.poison === true }),
      },
      { name: 'clicks-per-page' },
    )
    .map((k) => {
      // Fails after the aggregate counted the click: that count must not be committed.
      if (k.value.poison) throw new Error('poison click')
      return { key: k.key, value: k.value.n }
    })
    .to(totals)
  await log.createTopic(inTopic.name, { partitions: 2 })
  await send(log, inTopic.name, input)
  const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 5 })
  const good = input.filter((c) => !c.poison)
  await runToEnd(log, runner, totals.name, good.length)
  const last = new Map<string, number>()
  for (const r of readAll(log, totals.name) as Array<{ key: string; value: number }>) last.set(r.key, r.value)
  const want = new Map<string, number>()
  for (const c of good) want.set(c.page, (want.get(c.page) ?? 0) + 1)
  assert.deepEqual(last, want, 'each page counts its good clicks only')
  assert.equal(readAll(log, totals.name).length, good.length, 'one total per good click')
  const dlq = readAll(log, compile(p).deadLetterTopic)
  assert.equal(dlq.length, input.length - good.length, 'each poison click dead-lettered once')
  const byPage = compile(p).repartitionTopics[0]!.topic
  assert.ok(
    ends(log, byPage).some((n) => n > 0),
    'after the first poison record the keyBy went through the log',
  )
})
