/**
 * Queryable state: a step's store read while the pipeline runs — tables, running and windowed
 * aggregates, process() state — by key and by key range (runtime/query.ts). Through the
 * TestDriver here; test/unit/runtime/group-runner.test.ts reads a running worker's.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { avg, isSluiceError, pipeline, sum, topic, tumbling } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Spend {
  card: string
  amount: number
  at: number
}

function setup() {
  const spends = topic<Spend>('qs-spends', { key: (s) => s.card, timestamp: (s) => s.at })
  const limits = topic<{ card: string; limit: number }>('qs-limits', { key: (l) => l.card })
  const p = pipeline('qs')
  const s = p.from(spends, { watermark: { idleAfter: '1h' } })
  s.keyed().aggregate(
    sum((x: Spend) => x.amount),
    { name: 'total' },
  )
  s.keyed()
    .window(tumbling({ size: '10s' }))
    .aggregate(
      avg((x: Spend) => x.amount),
      { name: 'avg-10s' },
    )
  s.process<never, number>({
    name: 'last-seen',
    process(x, ctx) {
      ctx.state.set(x.at)
    },
  })
  p.table(limits, { name: 'limits' })
  return { d: new TestDriver(p), spends, limits }
}

test('get() by key: a table value, an aggregate result, open windows, process() state', () => {
  const { d, spends, limits } = setup()
  d.pipe(limits, { card: 'c1', limit: 500 })
  d.pipe(spends, { card: 'c1', amount: 10, at: 1_000 })
  d.pipe(spends, { card: 'c1', amount: 30, at: 2_000 })
  d.pipe(spends, { card: 'c2', amount: 5, at: 12_000 })
  assert.deepEqual(d.store('limits').get('c1'), { card: 'c1', limit: 500 })
  assert.equal(d.store('total').get('c1'), 40)
  assert.equal(d.store('total').get('nobody'), undefined)
  // avg's result, not its accumulator. W = 12 s closed c1's window [0, 10 s); c2's is open.
  assert.equal(d.store('avg-10s').get('c1'), undefined)
  assert.deepEqual(d.store('avg-10s').get('c2'), [{ start: 10_000, end: 20_000, value: 5 }])
  assert.equal(d.store('last-seen').get('c2'), 12_000)
})

test('range(): sorted by key, from inclusive, to exclusive, limit', () => {
  const { d, spends } = setup()
  for (const card of ['d', 'a', 'c', 'b', 'e']) d.pipe(spends, { card, amount: 1, at: 0 })
  assert.deepEqual(
    d
      .store('total')
      .range()
      .map(([k]) => k),
    ['a', 'b', 'c', 'd', 'e'],
  )
  assert.deepEqual(d.store('total').range({ from: 'b', to: 'd' }), [
    ['b', 1],
    ['c', 1],
  ])
  assert.deepEqual(
    d
      .store('total')
      .range({ from: 'b', limit: 2 })
      .map(([k]) => k),
    ['b', 'c'],
  )
})

test('a deleted table key reads as undefined; an unknown step names the queryable ones', () => {
  const { d, limits } = setup()
  d.pipe(limits, { card: 'c1', limit: 500 })
  d.pipeRaw(limits.name, null, { key: Buffer.from('c1') })
  assert.equal(d.store('limits').get('c1'), undefined)
  assert.deepEqual(d.store('limits').range(), [])
  assert.throws(
    () => d.store('nope'),
    (e: unknown) =>
      isSluiceError(e, 'SLUICE_INVALID_ARGUMENT') &&
      /no queryable step "nope"; its queryable steps: total, avg-10s, last-seen, limits/.test(
        (e as Error).message,
      ),
  )
})
