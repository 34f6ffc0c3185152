/**
 * Global tables: every task holds all of the table, so a stream joins it by any key — a
 * foreign key — with no repartition and no co-partitioning. Through the TestDriver (over two
 * partitions, so the orders and the customers they look up live in different partitions) and
 * a consumer-group worker on the embedded log.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  type EmbeddedLog,
  EmbeddedRunner,
  GroupRunner,
  openEmbeddedLog,
  pipeline,
  ThreadedRunner,
  topic,
} from 'sluice'
import { TestDriver } from 'sluice/testing'
import { tempDir } from '../../helpers/temp-dir.ts'
import {
  customersTopic,
  enriched,
  enrichedTopic,
  ordersTopic,
} from '../runtime/fixtures/threaded-pipelines.ts'

interface Customer {
  id: string
  tier: string
}
interface Order {
  id: string
  customer: string
}

function enrich(name: string, partitions?: number) {
  const customers = topic<Customer>(`${name}-customers`, {
    key: (c) => c.id,
    ...(partitions ? { partitions } : {}),
  })
  const orders = topic<Order>(`${name}-orders`, { key: (o) => o.id, ...(partitions ? { partitions } : {}) })
  const out = topic<string>(`${name}-out`)
  const p = pipeline(name)
  const byId = p.globalTable(customers)
  p.from(orders)
    .leftJoin(byId, (o, c) => `${o.id}:${c?.tier ?? 'unknown'}`, { key: (o) => o.customer })
    .to(out)
  return { p, customers, orders, out }
}

test('a stream looks up a global table by a foreign key, across partitions', () => {
  const { p, customers, orders, out } = enrich('gt-driver')
  const d = new TestDriver(p, { partitions: 2 })
  d.pipe(customers, { id: 'c1', tier: 'gold' }, { key: 'c1' })
  d.pipe(customers, { id: 'c2', tier: 'silver' }, { key: 'c2' })
  // Orders keyed by order id land on either partition; every task sees every customer.
  for (const [id, customer] of [
    ['o1', 'c1'],
    ['o2', 'c2'],
    ['o3', 'c1'],
    ['o4', 'c9'],
  ])
    d.pipe(orders, { id: id!, customer: customer! }, { key: id! })
  assert.deepEqual(d.values(out).sort(), ['o1:gold', 'o2:silver', 'o3:gold', 'o4:unknown'])
  assert.deepEqual(
    new Set(d.output(out).map((r) => r.key)),
    new Set(['o1', 'o2', 'o3', 'o4']),
    'results keep the order key',
  )
  // An update and a delete are seen by the next lookups.
  d.pipe(customers, { id: 'c1', tier: 'platinum' }, { key: 'c1' })
  d.pipeRaw(customers.name, null, { key: Buffer.from('c2') })
  d.pipe(orders, { id: 'o5', customer: 'c1' }, { key: 'o5' })
  d.pipe(orders, { id: 'o6', customer: 'c2' }, { key: 'o6' })
  const values = d.values(out)
  assert.ok(values.includes('o5:platinum') && values.includes('o6:unknown'), values.join(' '))
})

test('a global table can only be joined by streams, and { key } only looks up global tables', () => {
  const t = topic<Customer>('gt-bad-customers')
  const p = pipeline('gt-bad')
  p.from(topic<Order>('gt-bad-orders')).to(topic('gt-bad-copy'))
  const g = p.globalTable(t)
  g.toStream().to(topic('gt-bad-out'))
  assert.throws(
    () => new TestDriver(p),
    /global table "gt-bad-customers-global" can only be joined by streams/,
  )
  const q = pipeline('gt-bad2')
  const table = q.table(topic<Customer>('gt-bad2-customers'))
  assert.throws(
    () => q.from(topic<Order>('gt-bad2-orders')).join(table, (o) => o, { key: (o) => o.customer }),
    /\{ key \} looks up a global table/,
  )
})

test('a consumer-group worker bootstraps the global table before processing, then follows it', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  try {
    const { p, customers, orders, out } = enrich('gt-group', 3)
    await log.createTopic(customers.name, { partitions: 2, compact: true })
    await log.createTopic(orders.name, { partitions: 3 })
    const producer = log.producer()
    const json = (v: unknown) => Buffer.from(JSON.stringify(v))
    await producer.send(customers.name, [
      { key: Buffer.from('c1'), value: json({ id: 'c1', tier: 'gold' }) },
      { key: Buffer.from('c2'), value: json({ id: 'c2', tier: 'silver' }) },
    ])
    await producer.send(
      orders.name,
      ['o1', 'o2', 'o3'].map((id, i) => ({
        key: Buffer.from(id),
        value: json({ id, customer: `c${(i % 2) + 1}` }),
      })),
    )
    const runner = new GroupRunner(log, [p])
    await runner.start()
    const running = runner.run()
    const results = async () => {
      const all: string[] = []
      for (const part of log.partitionsOf(out.name)) {
        for (const r of log.read(part.tp, 0)) all.push(JSON.parse(Buffer.from(r.value!).toString()))
      }
      return all.sort()
    }
    const until = async (n: number) => {
      const deadline = Date.now() + 10_000
      while ((await results()).length < n) {
        if (Date.now() > deadline) throw new Error(`no ${n} results: ${await results()}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    await until(3)
    assert.deepEqual(await results(), ['o1:gold', 'o2:silver', 'o3:gold'], 'joined from the first record on')
    // The table changes while the worker runs: later orders see it.
    await producer.send(customers.name, [
      { key: Buffer.from('c1'), value: json({ id: 'c1', tier: 'platinum' }) },
    ])
    await new Promise((r) => setTimeout(r, 300))
    await producer.send(orders.name, [{ key: Buffer.from('o4'), value: json({ id: 'o4', customer: 'c1' }) }])
    await until(4)
    assert.ok((await results()).includes('o4:platinum'))
    await producer.close()
    runner.stop()
    await running
  } finally {
    await log.close()
  }
})

for (const [label, make] of [
  ['the embedded runner', (log: EmbeddedLog) => new EmbeddedRunner(log, [enriched])],
  [
    'worker threads',
    (log: EmbeddedLog) =>
      new ThreadedRunner(log, [enriched], {
        threads: 2,
        module: fileURLToPath(new URL('../runtime/fixtures/threaded-pipelines.ts', import.meta.url)),
      }),
  ],
] as const) {
  test(`${label}: the global table is read whole by every task before its first record`, async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    try {
      await log.createTopic(customersTopic.name, { partitions: 2, compact: true })
      await log.createTopic(ordersTopic.name, { partitions: 4 })
      const producer = log.producer()
      const json = (v: unknown) => Buffer.from(JSON.stringify(v))
      await producer.send(
        customersTopic.name,
        ['c1', 'c2', 'c3'].map((id, i) => ({ key: Buffer.from(id), value: json({ id, tier: `t${i + 1}` }) })),
      )
      const ids = Array.from({ length: 40 }, (_, i) => `o${i}`)
      await producer.send(
        ordersTopic.name,
        ids.map((id, i) => ({ key: Buffer.from(id), value: json({ id, customer: `c${(i % 4) + 1}` }) })),
      )
      await producer.close()
      const runner = make(log)
      await runner.start()
      const running = runner.run()
      const results = () => {
        const all: string[] = []
        for (const part of log.partitionsOf(enrichedTopic.name)) {
          for (let offset = part.startOffset; ; ) {
            const batch = log.read(part.tp, offset)
            if (batch.length === 0) break
            for (const r of batch) all.push(JSON.parse(Buffer.from(r.value!).toString()))
            offset = batch[batch.length - 1]!.offset + 1
          }
        }
        return all.sort()
      }
      const deadline = Date.now() + 20_000
      while (results().length < ids.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20))
      runner.stop()
      await running
      // c4 is not in the table: a quarter of the orders are unknown.
      const expected = ids.map((id, i) => `${id}:${i % 4 === 3 ? 'unknown' : `t${(i % 4) + 1}`}`).sort()
      assert.deepEqual(results(), expected)
    } finally {
      await log.close()
    }
  })
}
