/**
 * A stream–stream join whose inputs both come through keyBy: each input must enter the join
 * through its own side node on the repartition topic's source, as it does when the join reads
 * sources directly (a regression: the repartition source fed the join node itself, which
 * passed the raw records on as if they were join results).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pipeline, topic } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Order {
  id: string
  customer: string
  at: number
}
interface Payment {
  order: string
  amount: number
  at: number
}

test('keyBy on both sides, then join: only pairs come out, within the bounds', () => {
  const orders = topic<Order>('jak-orders', { timestamp: (o) => o.at })
  const payments = topic<Payment>('jak-payments', { timestamp: (p) => p.at })
  const out = topic<string>('jak-out')
  const p = pipeline('jak')
  const watermark = { maxOutOfOrder: 1000, idleAfter: '1h' } as const
  p.from(orders, { watermark })
    .keyBy((o) => o.id, { name: 'orders-by-id' })
    .join(
      p.from(payments, { watermark }).keyBy((x) => x.order, { name: 'payments-by-order' }),
      (o, x) => `${o.id}:${o.customer}:${x.amount}`,
      { name: 'paid', before: 0, after: 5000 },
    )
    .to(out)
  const d = new TestDriver(p, { partitions: 2 })
  assert.match(d.describe(), /paid\.left/)
  assert.match(d.describe(), /paid\.right/)
  d.pipe(orders, { id: 'o1', customer: 'ada', at: 1000 })
  d.pipe(payments, { order: 'o1', amount: 5, at: 2000 })
  d.pipe(payments, { order: 'o1', amount: 7, at: 9000 }) // past after: no pair
  d.pipe(payments, { order: 'o2', amount: 3, at: 3000 }) // paid before its order arrives
  d.pipe(orders, { id: 'o2', customer: 'bob', at: 2500 })
  d.advanceWatermark(100_000)
  assert.deepEqual(d.values(out).sort(), ['o1:ada:5', 'o2:bob:3'])
  assert.equal(d.deadLetters().length, 0)
})
