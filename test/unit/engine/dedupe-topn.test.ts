/**
 * Deduplication and top-N through the TestDriver. Expectations by hand in the comments.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hopping, pipeline, topic, topN, tumbling, type Windowed } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Payment {
  id: string
  card: string
  amount: number
  at: number
}

test('dedupe drops a repeated id within the horizon, in either order; keeps it after', () => {
  const src = topic<Payment>('dd-in', { key: (p) => p.card, timestamp: (p) => p.at })
  const out = topic<Payment>('dd-out')
  const p = pipeline('dd')
  p.from(src, { watermark: { maxOutOfOrder: '1m', idleAfter: '1h' } })
    .dedupe({ name: 'once', id: (x) => x.id, within: '10s' })
    .to(out)
  const d = new TestDriver(p)
  const pay = (id: string, at: number) => d.pipe(src, { id, card: 'c', amount: 1, at })
  pay('p1', 1_000)
  pay('p1', 1_000) // a retry: dropped
  pay('p2', 2_000)
  pay('p1', 9_000) // 8 s after the first p1: still within 10 s, dropped
  pay('p2', 500) // out of order, 1.5 s before the first p2: dropped
  pay('p1', 12_000) // 11 s after: a new payment with a reused id, kept
  assert.deepEqual(
    d.values(out).map((x) => `${x.id}@${x.at}`),
    ['p1@1000', 'p2@2000', 'p1@12000'],
  )
})

test('dedupe forgets ids once the watermark has passed their horizon (bounded state)', () => {
  const src = topic<Payment>('dd2-in', { key: (p) => p.card, timestamp: (p) => p.at })
  const p = pipeline('dd2')
  p.from(src, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    .dedupe({ name: 'once', id: (x) => x.id, within: '10s' })
    .to(topic('dd2-out'))
  const d = new TestDriver(p)
  for (let i = 0; i < 100; i++) d.pipe(src, { id: `p${i}`, card: 'c', amount: 1, at: i * 1_000 })
  // W = 99,000: ids seen before 89,000 are past their horizon.
  assert.equal(d.state('once').size, 11, 'p89 … p99 are remembered')
})

test('dedupe without an id function uses the record key', () => {
  const src = topic<string>('dd3-in')
  const out = topic<string>('dd3-out')
  const p = pipeline('dd3')
  p.from(src).dedupe({ name: 'once', within: '1m' }).to(out)
  const d = new TestDriver(p)
  d.pipe(src, 'a', { key: 'k1', timestamp: 0 })
  d.pipe(src, 'b', { key: 'k1', timestamp: 10 })
  d.pipe(src, 'c', { key: 'k2', timestamp: 20 })
  assert.deepEqual(d.values(out), ['a', 'c'])
})

test('topN per key and window: the highest n, best first, ties in arrival order', () => {
  const src = topic<Payment>('tn-in', { key: (p) => p.card, timestamp: (p) => p.at })
  const out = topic<Windowed<Payment[]>>('tn-out')
  const p = pipeline('tn')
  p.from(src)
    .keyed()
    .window(tumbling({ size: '10s' }))
    .aggregate(topN(2, { by: (x) => x.amount }), { name: 'top' })
    .to(out)
  const d = new TestDriver(p)
  for (const [id, amount] of [
    ['a', 5],
    ['b', 9],
    ['c', 7],
    ['d', 9],
  ] as const)
    d.pipe(src, { id, card: 'c1', amount, at: 1_000 })
  d.advanceWatermark(10_000)
  // 9 (b) and 9 (d) tie: b came first. 7 and 5 fall off.
  assert.deepEqual(
    d.values(out).map((w) => w.value.map((x) => x.id)),
    [['b', 'd']],
  )
})

test('topN ascending, and merged across sliding windows', () => {
  const src = topic<Payment>('tn2-in', { key: (p) => p.card, timestamp: (p) => p.at })
  const out = topic<Windowed<Payment[]>>('tn2-out')
  const p = pipeline('tn2')
  p.from(src)
    .keyed()
    .window(hopping({ size: '10s', advance: '5s' }))
    .aggregate(topN(2, { by: (x) => x.amount, order: 'asc' }), { name: 'cheapest' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, { id: 'x', card: 'c', amount: 30, at: 1_000 }) // [-5 s, 5 s), [0, 10 s)
  d.pipe(src, { id: 'y', card: 'c', amount: 10, at: 6_000 }) // [0, 10 s), [5 s, 15 s)
  d.pipe(src, { id: 'z', card: 'c', amount: 20, at: 7_000 }) // [0, 10 s), [5 s, 15 s)
  d.advanceWatermark(15_000)
  assert.deepEqual(
    d.values(out).map((w) => `${w.start}:${w.value.map((x) => x.id).join(',')}`),
    ['-5000:x', '0:y,z', '5000:y,z'],
  )
  assert.throws(() => topN(0, { by: () => 1 }), /n ≥ 1/)
})
