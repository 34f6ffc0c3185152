/**
 * Stream–table joins through the TestDriver (src/runtime/table-operator.ts).
 *
 * The rules under test: a table holds versions per key by event time; a record joins the
 * version valid at its event time. A record ahead of the table's event time (its watermark:
 * newest table time − maxOutOfOrder, here 0) waits until the table catches up, goes idle
 * (1 s of processing time without table records), or the task watermark passes it. Each test
 * computes its expectations by hand in the comments.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pipeline, topic } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Customer {
  id: string
  tier: string
  at: number
}
interface Order {
  id: string
  customer: string
  at: number
}
interface Enriched {
  order: string
  tier: string | null
}

function setup(name: string, options: { left?: boolean; version?: 'event-time' | 'latest' } = {}) {
  const customers = topic<Customer>(`${name}-customers`, { key: (c) => c.id, timestamp: (c) => c.at })
  const orders = topic<Order>(`${name}-orders`, { key: (o) => o.customer, timestamp: (o) => o.at })
  const out = topic<Enriched>(`${name}-out`)
  const p = pipeline(name)
  const table = p.table(customers, { name: 'customers' })
  const stream = p.from(orders, { watermark: { maxOutOfOrder: '10s', idleAfter: '1h' } })
  const version = options.version ?? 'event-time'
  const joined = options.left
    ? stream.leftJoin(table, (o, c) => ({ order: o.id, tier: c?.tier ?? null }), { version })
    : stream.join(table, (o, c) => ({ order: o.id, tier: c.tier }), { version })
  joined.to(out)
  return { p, customers, orders, out, d: new TestDriver(p) }
}

test('a record joins the table version valid at its event time', () => {
  const { customers, orders, out, d } = setup('stj-version')
  d.pipe(customers, { id: 'c1', tier: 'silver', at: 100 })
  d.pipe(customers, { id: 'c1', tier: 'gold', at: 500 })
  // Table watermark 500. o1@300 is behind it: joins at once, with the version of 300 (silver).
  d.pipe(orders, { id: 'o1', customer: 'c1', at: 300 })
  assert.deepEqual(d.values(out), [{ order: 'o1', tier: 'silver' }])
  // o2@600 is ahead of the table: it waits (a table update at ≤ 600 could still come).
  d.pipe(orders, { id: 'o2', customer: 'c1', at: 600 })
  assert.deepEqual(d.values(out), [{ order: 'o1', tier: 'silver' }])
  // 1 s without table records: the table is idle, nothing is pending, o2 joins gold.
  d.advanceTime(1_000)
  assert.deepEqual(d.values(out), [
    { order: 'o1', tier: 'silver' },
    { order: 'o2', tier: 'gold' },
  ])
})

test('a table update appended after a record, but earlier in event time, is the one it joins', () => {
  const { customers, orders, out, d } = setup('stj-behind')
  // The order comes first; the table has nothing yet: o1 waits.
  d.pipe(orders, { id: 'o1', customer: 'c1', at: 1000 })
  // The customer's tier as of 900 arrives late (in processing time): table watermark 900 < 1000.
  d.pipe(customers, { id: 'c1', tier: 'gold', at: 900 })
  assert.deepEqual(d.values(out), [])
  assert.equal(d.state('customers-join').size, 1, 'o1 waits in the join state')
  // An update at 1200 moves the table past 1000: o1 joins the version valid at 1000 — gold,
  // not platinum, whatever order the two topics were read in.
  d.pipe(customers, { id: 'c1', tier: 'platinum', at: 1200 })
  assert.deepEqual(d.values(out), [{ order: 'o1', tier: 'gold' }])
  assert.equal(d.state('customers-join').size, 0, 'nothing waits any more')
})

test("version 'latest': no waiting, the table as read so far", () => {
  const { customers, orders, out, d } = setup('stj-latest', { left: true, version: 'latest' })
  d.pipe(orders, { id: 'o1', customer: 'c1', at: 1000 }) // table empty: joins nothing
  d.pipe(customers, { id: 'c1', tier: 'gold', at: 900 })
  d.pipe(customers, { id: 'c1', tier: 'platinum', at: 1200 })
  d.pipe(orders, { id: 'o2', customer: 'c1', at: 1100 }) // the newest value, platinum
  assert.deepEqual(d.values(out), [
    { order: 'o1', tier: null },
    { order: 'o2', tier: 'platinum' },
  ])
})

test('a tombstone deletes a key from its event time on; inner joins drop, left joins keep', () => {
  for (const left of [false, true]) {
    const { customers, orders, out, d } = setup(`stj-tombstone-${left}`, { left })
    d.pipe(customers, { id: 'c1', tier: 'gold', at: 100 })
    d.pipeRaw(customers.name, null, { key: Buffer.from('c1'), timestamp: 200 }) // delete at 200
    d.pipe(customers, { id: 'c9', tier: 'bronze', at: 300 }) // table watermark 300
    d.pipe(orders, { id: 'before', customer: 'c1', at: 150 }) // gold was valid at 150
    d.pipe(orders, { id: 'after', customer: 'c1', at: 250 }) // deleted at 250
    d.pipe(orders, { id: 'unknown', customer: 'c5', at: 260 }) // never in the table
    assert.deepEqual(
      d.values(out),
      left
        ? [
            { order: 'before', tier: 'gold' },
            { order: 'after', tier: null },
            { order: 'unknown', tier: null },
          ]
        : [{ order: 'before', tier: 'gold' }],
      left ? 'left join' : 'inner join',
    )
  }
})

test('waiting records are released in event-time order once the table passes them', () => {
  const { customers, orders, out, d } = setup('stj-order')
  d.pipe(customers, { id: 'c1', tier: 'a', at: 0 })
  d.pipe(orders, { id: 'o3', customer: 'c1', at: 300 })
  d.pipe(orders, { id: 'o1', customer: 'c1', at: 100 })
  d.pipe(orders, { id: 'o2', customer: 'c1', at: 200 })
  d.pipe(customers, { id: 'c1', tier: 'b', at: 150 }) // table watermark 150: releases o1 (tier a)
  assert.deepEqual(d.values(out), [{ order: 'o1', tier: 'a' }])
  d.pipe(customers, { id: 'c1', tier: 'c', at: 250 }) // releases o2 (valid at 200: b)
  d.pipe(customers, { id: 'c1', tier: 'd', at: 400 }) // releases o3 (valid at 300: c)
  assert.deepEqual(d.values(out), [
    { order: 'o1', tier: 'a' },
    { order: 'o2', tier: 'b' },
    { order: 'o3', tier: 'c' },
  ])
})

test('a table keeps only the versions an on-time record can need', () => {
  const { customers, orders, d } = setup('stj-bounded')
  for (let i = 0; i < 100; i++) d.pipe(customers, { id: 'c1', tier: `t${i}`, at: i * 1000 })
  // The stream's watermark (newest order − 10 s) moves the task watermark past the old versions:
  // the next update keeps the version valid at W and those after it.
  d.pipe(orders, { id: 'o', customer: 'c1', at: 200_000 })
  d.advanceTime(1_000)
  d.pipe(customers, { id: 'c1', tier: 'last', at: 200_000 })
  const versions = d.state('customers').get('c1') as Array<{ t: number }>
  assert.deepEqual(
    versions.map((v) => v.t),
    [99_000, 200_000],
    'the version valid at W = 190,000, then the new one',
  )
})

test('describe() shows the table and the join', () => {
  const { d } = setup('stj-describe')
  const text = d.describe()
  assert.match(text, /table stj-describe-customers → store stj-describe\.customers/)
  assert.match(text, /join customers-join with stj-describe\.customers \[event-time\]/)
})

test('a topic read as a table cannot also be read as a stream in the same pipeline', () => {
  const t = topic<Customer>('stj-twice')
  const p = pipeline('stj-twice')
  p.table(t)
  assert.throws(() => p.from(t), /already reads topic "stj-twice" as a table/)
})

test('joining a stream and a table with different partition counts fails at start, naming both', async () => {
  const { openEmbeddedLog, EmbeddedRunner } = await import('sluice')
  const { tempDir } = await import('../../helpers/temp-dir.ts')
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  try {
    const customers = topic<Customer>('stj-cp-customers', { key: (c) => c.id, partitions: 2 })
    const orders = topic<Order>('stj-cp-orders', { key: (o) => o.customer, partitions: 3 })
    const p = pipeline('stj-cp')
    p.from(orders)
      .join(p.table(customers), (o, c) => ({ order: o.id, tier: c.tier }))
      .to(topic('stj-cp-out'))
    const runner = new EmbeddedRunner(log, [p])
    await assert.rejects(
      runner.start(),
      /stj-cp-orders \(3\), stj-cp-customers \(2\) in one task, which needs equal partition counts.*keyBy/,
    )
    // With keyBy, the repartition topic takes the table's count: the same join starts.
    const q = pipeline('stj-cp2')
    q.from(orders)
      .keyBy((o) => o.customer, { name: 'by-customer' })
      .join(q.table(customers), (o, c) => ({ order: o.id, tier: c.tier }))
      .to(topic('stj-cp2-out'))
    const ok = new EmbeddedRunner(log, [q])
    await ok.start()
    assert.equal((await log.describeTopic('stj-cp2-by-customer-repartition')).partitionDetails.length, 2)
    ok.stop()
  } finally {
    await log.close()
  }
})

test('a record older than a key’s first version finds no value, not a later one', () => {
  const { customers, orders, out, d } = setup('stj-before-first', { left: true })
  // c1 first appears at 500; c2 at 100 and again at 900.
  d.pipe(customers, { id: 'c1', tier: 'gold', at: 500 })
  d.pipe(customers, { id: 'c2', tier: 'silver', at: 100 })
  d.pipe(customers, { id: 'c2', tier: 'platinum', at: 900 })
  // o1@300 for c1: c1 had no value at 300 — the value from 500 must not be used.
  d.pipe(orders, { id: 'o1', customer: 'c1', at: 300 })
  // o2@50 for c2: before c2's first version (100): no value either.
  d.pipe(orders, { id: 'o2', customer: 'c2', at: 50 })
  // o3@200 for c2: the version valid at 200.
  d.pipe(orders, { id: 'o3', customer: 'c2', at: 200 })
  assert.deepEqual(d.values(out), [
    { order: 'o1', tier: null },
    { order: 'o2', tier: null },
    { order: 'o3', tier: 'silver' },
  ])
})
