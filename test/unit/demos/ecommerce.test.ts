/**
 * The e-commerce demo scored on a fixed seed: the pipeline's outputs (through the TestDriver,
 * event time from the data) against the generator's injected cases and against plain-loop
 * references; a few hand-made cases for the rules' edges; then `sluice demo ecommerce` end to
 * end on the embedded log with the HTTP server on a free port.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TestDriver } from 'sluice/testing'
import { type Delivery, MAX_DELAY_MS, ShopGenerator } from '../../../examples/ecommerce/generator.ts'
import type { Click, Product, ProductChange, ShopAlert } from '../../../examples/ecommerce/model.ts'
import { ecommercePipeline, shopTopics } from '../../../examples/ecommerce/pipeline.ts'
import { BoughtTogetherReference, TrendingReference } from '../../../examples/ecommerce/reference.ts'
import { formatScore, score } from '../../../examples/ecommerce/score.ts'
import { servedUrl, sluice } from '../../helpers/demo-cli.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const EVENTS = 8_000
const topics = shopTopics()

function pipe(driver: TestDriver, d: Delivery): void {
  if (d.topic === 'clicks') driver.pipe(topics.clicks, d.value, { key: d.key })
  else if (d.topic === 'changes') driver.pipe(topics.changes, d.value, { key: d.key })
  else driver.pipe(topics.products, d.value, { key: d.key })
}

test('e-commerce results match the injected cases and plain-loop references exactly (seed 1, 8,000 events)', (t) => {
  const generator = new ShopGenerator({ seed: 1 })
  const driver = new TestDriver(ecommercePipeline('shop-scored', topics), { partitions: 2 })
  const references = { trending: new TrendingReference(), together: new BoughtTogetherReference() }
  for (let i = 0; i < EVENTS; i++) {
    const d = generator.next()
    if (d.topic === 'clicks') {
      references.trending.add(d.value)
      references.together.add(d.value)
    }
    pipe(driver, d)
  }
  const until = generator.clock
  driver.advanceWatermark(until + 3 * 60 * 60_000)
  references.trending.finish()
  const outputs = {
    trending: driver.values(topics.trending),
    recommendations: driver.values(topics.recommendations),
    abandonedCarts: driver.values(topics.abandonedCarts),
    alerts: driver.values(topics.alerts),
  }
  const s = score(outputs, generator, references, until, true)
  const report = formatScore(s).join('\n')
  for (const line of formatScore(s)) t.diagnostic(line)

  assert.ok(s.abandonedCarts.cases >= 50, report)
  assert.ok(s.priceChanges.cases >= 5 && s.lowStock.cases >= 5, report)
  for (const d of [s.abandonedCarts, s.priceChanges, s.lowStock]) {
    assert.ok(d.recall >= 0.95 && d.precision >= 0.9, report)
  }
  assert.ok(s.trends.cases >= 3, report)
  assert.equal(s.trends.found, s.trends.cases, report)
  assert.ok(s.pairs.cases >= 4, report)
  assert.equal(s.pairs.rankedFirst, s.pairs.cases, report)
  // Exact: every trending window and every product's list as the plain loops compute them.
  assert.ok(s.trendingWindows.compared >= 40, report)
  assert.equal(s.trendingWindows.equal, s.trendingWindows.compared, report)
  assert.ok(s.recommendationLists.compared >= 50, report)
  assert.equal(s.recommendationLists.equal, s.recommendationLists.compared, report)
  assert.equal(driver.deadLetters().length, 0)

  // The queryable stores the dashboard reads: a product's recommendations, the live catalogue.
  const [a, b] = generator.affinities[0]!
  const together = driver.store('bought-together').get(a) as Array<{ productId: string; orders: number }>
  assert.equal(together[0]?.productId, b)
  assert.equal(together[0]?.orders, references.together.together(a, b))
  const row = driver.store('products').get(a) as Product
  assert.deepEqual({ name: row.name, category: row.category }, generator.names.get(a))
})

test('the generator is deterministic per seed; clicks come at most 8 s late, the back office in order', () => {
  const take = (seed: number) => {
    const g = new ShopGenerator({ seed })
    return Array.from({ length: 3_000 }, () => g.next())
  }
  const a = take(7)
  assert.deepEqual(take(7), a)
  assert.notDeepEqual(take(8), a)
  const timeOf = (d: Delivery) => Date.parse(d.topic === 'products' ? d.value.updatedAt : d.value.at)
  let newest = 0
  let late = 0
  let clicks = 0
  let lastBackOffice = 0
  for (const d of a) {
    const at = timeOf(d)
    if (d.topic === 'clicks') {
      clicks++
      if (at < newest) late++
      assert.ok(newest - at < MAX_DELAY_MS, `${d.value.id} is ${newest - at} ms late`)
    } else {
      assert.ok(at >= lastBackOffice, `${d.topic} record out of order at ${d.key}`)
      lastBackOffice = at
    }
    newest = Math.max(newest, at)
  }
  assert.ok(
    late > clicks * 0.02 && late < clicks * 0.08,
    `expected about 5% of ${clicks} clicks late, got ${late}`,
  )
  const ids = a.flatMap((d) => (d.topic === 'products' ? [] : [d.value.id]))
  assert.equal(new Set(ids).size, ids.length, 'event and change ids are unique')
})

/** Omit for each member of a union (Omit of the union would keep only the common fields). */
type WithoutIds<T> = T extends unknown ? Omit<T, 'id' | 'shopperId'> : never

const T0 = Date.parse('2026-03-01T10:00:00Z')
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString()

test('abandoned carts: one alert per cart left for 20 minutes; a purchase within 20 minutes of an add cancels it', () => {
  const driver = new TestDriver(ecommercePipeline('shop-carts', topics))
  const click = (c: WithoutIds<Click>, n: number) =>
    driver.pipe(topics.clicks, { ...c, id: `e-${n}`, shopperId: `u-${c.sessionId}` } as Click, {
      key: c.sessionId,
    })
  const add = (sessionId: string, minute: number, n: number) =>
    click({ kind: 'cart-add', sessionId, productId: 'p-001', price: 9.99, quantity: 1, at: at(minute) }, n)
  const buy = (sessionId: string, minute: number, n: number) =>
    click(
      {
        kind: 'purchase',
        sessionId,
        orderId: `o-${n}`,
        items: [{ productId: 'p-001', price: 9.99, quantity: 1 }],
        at: at(minute),
      },
      n,
    )
  // left: three adds, no purchase. late-buyer: bought 19 minutes after the add, in time.
  // too-late: bought 21 minutes after it.
  add('left', 0, 1)
  add('late-buyer', 1, 2)
  add('too-late', 1, 3)
  add('left', 2, 4)
  add('left', 5, 5)
  buy('late-buyer', 20, 6)
  buy('too-late', 22, 7)
  driver.advanceWatermark(T0 + 60 * 60_000)
  const carts = driver.values(topics.abandonedCarts)
  assert.deepEqual(carts.map((c) => [c.sessionId, c.addedAt, c.at]).sort(), [
    ['left', at(0), at(20)],
    ['too-late', at(1), at(21)],
  ])
})

test('alerts join the catalogue row valid at the change: a reorder point raised later does not apply before', () => {
  const driver = new TestDriver(ecommercePipeline('shop-alerts', topics))
  const row = (minute: number, reorderAt: number, stock: number): Product => ({
    id: 'p-001',
    name: 'Tent Aster',
    category: 'outdoor',
    price: 120.99,
    stock,
    reorderAt,
    updatedAt: at(minute),
  })
  const stock = (id: string, minute: number, delta: number, level: number): ProductChange => ({
    kind: 'stock',
    id,
    productId: 'p-001',
    delta,
    stock: level,
    reason: 'sale',
    at: at(minute),
  })
  driver.pipe(topics.products, row(0, 10, 20), { key: 'p-001' })
  // The catalogue's update at minute 5 (reorder point 10 → 15) arrives before a sale at
  // minute 4 that takes stock from 16 to 15: at minute 4 the reorder point was still 10.
  driver.pipe(topics.products, row(5, 15, 16), { key: 'p-001' })
  driver.pipe(topics.changes, stock('c-1', 4, -1, 15), { key: 'p-001' })
  // Minute 6: 16 → 14 crosses the new reorder point of 15; minute 7: 14 → 13 was below it already.
  driver.pipe(topics.changes, stock('c-2', 6, -2, 14), { key: 'p-001' })
  driver.pipe(topics.changes, stock('c-3', 7, -1, 13), { key: 'p-001' })
  driver.pipe(
    topics.changes,
    {
      kind: 'price',
      id: 'c-4',
      productId: 'p-001',
      previous: 120.99,
      price: 99.99,
      reason: 'flash-sale',
      at: at(8),
    },
    { key: 'p-001' },
  )
  driver.pipe(
    topics.changes,
    {
      kind: 'price',
      id: 'c-5',
      productId: 'p-001',
      previous: 99.99,
      price: 94.99,
      reason: 'repricing',
      at: at(9),
    },
    { key: 'p-001' },
  )
  driver.advanceWatermark(T0 + 60 * 60_000)
  const alerts = driver.values(topics.alerts)
  assert.deepEqual(
    alerts.map((a: ShopAlert) => [a.changeId, a.kind, a.name, a.category]),
    [
      ['c-2', 'low-stock', 'Tent Aster', 'outdoor'],
      ['c-4', 'price-change', 'Tent Aster', 'outdoor'],
    ],
  )
  assert.match(alerts[1]!.detail, /120\.99 → 99\.99 \(-17%, flash-sale\)/)
})

/** The `score:` line: precision, recall, and the exact comparisons (equal, compared) × 2. */
function scoreLine(stdout: string) {
  const m =
    /^score: precision ([\d.]+) recall ([\d.]+) .*exact: (\d+)\/(\d+) trending windows, (\d+)\/(\d+) recommendation lists$/m.exec(
      stdout,
    )
  assert.ok(m, `no score line in:\n${stdout}`)
  const [precision, recall, trendingEqual, trendingCompared, listsEqual, listsCompared] = m
    .slice(1)
    .map(Number) as [number, number, number, number, number, number]
  return {
    precision,
    recall,
    trending: { equal: trendingEqual, compared: trendingCompared },
    lists: { equal: listsEqual, compared: listsCompared },
  }
}

test('sluice demo ecommerce --events 6000 --port 0 --seed 1 exits 0 and prints the score', async () => {
  const { done, stderr } = sluice(['demo', 'ecommerce', '--events', '6000', '--port', '0', '--seed', '1'])
  const { code, stdout } = await done
  assert.equal(code, 0, stderr())
  const s = scoreLine(stdout)
  assert.ok(s.recall >= 0.95 && s.precision >= 0.9, stdout)
  assert.ok(s.trending.compared >= 20 && s.trending.equal === s.trending.compared, stdout)
  assert.ok(s.lists.compared >= 30 && s.lists.equal === s.lists.compared, stdout)
  assert.match(stdout, /^ecommerce demo: 6,000 events \(/m)
  assert.match(stderr(), /serving http:\/\/127\.0\.0\.1:\d+/)
})

test('sluice demo ecommerce serves the stores while it runs, and scores on Ctrl-C', async () => {
  const dir = tempDir()
  const { child, done, stderr } = sluice([
    'demo',
    'ecommerce',
    '--rate',
    '1000',
    '--port',
    '0',
    '--data-dir',
    dir,
  ])
  const url = await servedUrl({ child, done, stderr })
  assert.match(await (await fetch(`${url}/api/pipelines`)).text(), /ecommerce/)
  // Four seconds at 1,000/s: about 45 minutes of event time, so popular products have orders.
  await new Promise((r) => setTimeout(r, 4_000))
  const [a] = new ShopGenerator({ seed: 1 }).affinities[0]!
  const response = await fetch(`${url}/stores/bought-together/${a}`)
  assert.equal(response.status, 200)
  const { value } = (await response.json()) as { value: Array<{ productId: string; orders: number }> }
  assert.ok(value.length > 0 && value.every((r) => /^p-\d{3}$/.test(r.productId) && r.orders > 0))
  const catalog = (await (await fetch(`${url}/stores/products?limit=5`)).json()) as {
    entries: Array<{ key: string; value: Product }>
  }
  assert.equal(catalog.entries.length, 5)
  child.kill('SIGINT')
  const { code, stdout } = await done
  assert.equal(code, 0, stderr())
  const s = scoreLine(stdout)
  assert.ok(s.recall >= 0.95 && s.precision >= 0.9, stdout)
  assert.equal(s.trending.equal, s.trending.compared, stdout)
  assert.match(stderr(), /SIGINT: stopping the feed/)
})
