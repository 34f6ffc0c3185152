/**
 * Tables beyond a topic: a table's stream of updates, streams and aggregations turned into
 * tables, and table–table joins — through the TestDriver, with expectations by hand.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { count, pipeline, topic } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Price {
  sku: string
  price: number
  at: number
}

test('table.toStream(): one record per upsert, a tombstone per delete', () => {
  const prices = topic<Price>('tb-prices', { key: (p) => p.sku, timestamp: (p) => p.at })
  const out = topic<Price | null>('tb-copy')
  const p = pipeline('tb-copy')
  p.table(prices).toStream().to(out)
  const d = new TestDriver(p)
  d.pipe(prices, { sku: 'a', price: 1, at: 1 })
  d.pipe(prices, { sku: 'a', price: 2, at: 2 })
  d.pipeRaw(prices.name, null, { key: Buffer.from('a'), timestamp: 3 })
  assert.deepEqual(
    d.output(out).map((r) => [r.key, r.value?.price ?? null]),
    [
      ['a', 1],
      ['a', 2],
      ['a', null],
    ],
  )
})

test('stream.toTable(): the latest value per key, joined by another stream at its event time', () => {
  interface Order {
    sku: string
    qty: number
    at: number
  }
  const prices = topic<Price>('tt-prices', { key: (p) => p.sku, timestamp: (p) => p.at })
  const orders = topic<Order>('tt-orders', { key: (o) => o.sku, timestamp: (o) => o.at })
  const out = topic<number>('tt-totals')
  const p = pipeline('tt')
  const table = p.from(prices, { watermark: { idleAfter: '1h' } }).toTable({ name: 'prices' })
  p.from(orders, { watermark: { idleAfter: '1h' } })
    .join(table, (o, price) => o.qty * price.price)
    .to(out)
  const d = new TestDriver(p)
  d.pipe(prices, { sku: 'a', price: 10, at: 100 })
  d.pipe(prices, { sku: 'a', price: 12, at: 300 })
  d.pipe(orders, { sku: 'a', qty: 2, at: 200 }) // price at 200: 10
  d.pipe(orders, { sku: 'a', qty: 1, at: 400 }) // ahead of the prices (300): waits
  assert.deepEqual(d.values(out), [20])
  d.pipe(prices, { sku: 'b', price: 5, at: 500 }) // the price stream moves to 500: price of a at 400 is 12
  assert.deepEqual(d.values(out), [20, 12])
})

test('an aggregation as a table: clicks counted per page, joined by views', () => {
  interface Click {
    page: string
    at: number
  }
  const clicks = topic<Click>('ta-clicks', { key: (c) => c.page, timestamp: (c) => c.at })
  const views = topic<Click>('ta-views', { key: (c) => c.page, timestamp: (c) => c.at })
  const out = topic<string>('ta-out')
  const p = pipeline('ta')
  const counts = p
    .from(clicks, { watermark: { idleAfter: '1h' } })
    .keyed()
    .aggregate(count(), { name: 'clicks-per-page' })
    .map((a) => a.value)
    .toTable({ name: 'click-counts' })
  p.from(views, { watermark: { idleAfter: '1h' } })
    .leftJoin(counts, (v, n) => `${v.page}:${n ?? 0}`)
    .to(out)
  const d = new TestDriver(p)
  d.pipe(clicks, { page: 'home', at: 1 })
  d.pipe(clicks, { page: 'home', at: 2 })
  d.pipe(views, { page: 'home', at: 2 }) // 2 clicks by time 2
  d.pipe(views, { page: 'about', at: 2 }) // none
  assert.deepEqual(d.values(out), ['home:2', 'about:0'])
})

test('table–table joins: inner, left and outer, updated by either side, deletes included', () => {
  interface Customer {
    id: string
    name: string
  }
  interface Account {
    id: string
    balance: number
  }
  for (const type of ['inner', 'left', 'outer'] as const) {
    const customers = topic<Customer>(`ttj-${type}-customers`, { key: (c) => c.id })
    const accounts = topic<Account>(`ttj-${type}-accounts`, { key: (a) => a.id })
    const out = topic<string | null>(`ttj-${type}-out`)
    const p = pipeline(`ttj-${type}`)
    const c = p.table(customers)
    const a = p.table(accounts)
    const joined =
      type === 'inner'
        ? c.join(a, (x, y) => `${x.name}:${y.balance}`, { name: 'summary' })
        : type === 'left'
          ? c.leftJoin(a, (x, y) => `${x.name}:${y?.balance ?? '-'}`, { name: 'summary' })
          : c.outerJoin(a, (x, y) => `${x?.name ?? '-'}:${y?.balance ?? '-'}`, { name: 'summary' })
    joined.toStream().to(out)
    const d = new TestDriver(p)
    d.pipe(customers, { id: '1', name: 'ada' }, { timestamp: 1 })
    d.pipe(accounts, { id: '1', balance: 5 }, { timestamp: 2 })
    d.pipe(accounts, { id: '2', balance: 7 }, { timestamp: 3 })
    d.pipe(accounts, { id: '1', balance: 9 }, { timestamp: 4 })
    d.pipeRaw(accounts.name, null, { key: Buffer.from('1'), timestamp: 5 })
    const changes = d.output(out).map((r) => `${r.key}=${r.value ?? 'deleted'}`)
    const expected = {
      // 1 has a result while both sides have it; deleting the account deletes the result.
      inner: ['1=ada:5', '1=ada:9', '1=deleted'],
      left: ['1=ada:-', '1=ada:5', '1=ada:9', '1=ada:-'],
      outer: ['1=ada:-', '1=ada:5', '2=-:7', '1=ada:9', '1=ada:-'],
    }
    assert.deepEqual(changes, expected[type], type)
  }
})
