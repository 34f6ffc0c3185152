/**
 * Fixed windows (tumbling, hopping, and sliding as hopping's alias) through the TestDriver.
 *
 * The rules under test (src/runtime/window-operator.ts): the watermark W is the newest event
 * time minus maxOutOfOrder; a window [start, end) closes when W ≥ end + allowedLateness and
 * `final` emits it then; a record whose windows are all closed is late. Each test computes
 * its expected results by hand in the comments.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type Aggregator,
  avg,
  type Codec,
  count,
  distinctCount,
  hopping,
  max,
  min,
  pipeline,
  sliding,
  stringCodec,
  sum,
  type TopicDef,
  topic,
  tumbling,
  type Windowed,
} from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Reading {
  sensor: string
  v: number
  at: number
}

/** A fresh readings topic: keyed by sensor, event time from `at`. */
function readings(name: string) {
  return topic<Reading>(name, { key: (r) => r.sensor, timestamp: (r) => r.at })
}

const r = (sensor: string, at: number, v = 1): Reading => ({ sensor, v, at })

test('tumbling, in order: each window is emitted once, when the watermark reaches its end', () => {
  const src = readings('tt-inorder-in')
  const out = topic<Windowed<number>>('tt-inorder-out')
  const p = pipeline('tt-inorder')
  p.from(src)
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(
      sum((x: Reading) => x.v),
      { name: 'sum-1s' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 100, 1))
  d.pipe(src, r('a', 200, 2))
  d.pipe(src, r('a', 900, 3))
  // W = 900 < 1000: [0, 1000) is still open.
  assert.deepEqual(d.values(out), [])
  d.pipe(src, r('a', 1000, 4))
  // W = 1000 ≥ 1000: [0, 1000) closes with 1 + 2 + 3 = 6; the record at 1000 starts [1000, 2000).
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: 6 }])
  d.pipe(src, r('a', 1500, 5))
  d.pipe(src, r('a', 2100, 6))
  // W = 2100: [1000, 2000) closes with 4 + 5 = 9. [2000, 3000) holds 6, still open.
  d.advanceWatermark(3000)
  // W = 3000: [2000, 3000) closes with 6.
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 6 },
    { key: 'a', start: 1000, end: 2000, value: 9 },
    { key: 'a', start: 2000, end: 3000, value: 6 },
  ])
  // A result carries its window's last instant as event time, and the key.
  assert.deepEqual(
    d.output(out).map((o) => [o.key, o.timestamp]),
    [
      ['a', 999],
      ['a', 1999],
      ['a', 2999],
    ],
  )
  // Closed windows leave no state behind.
  assert.equal(d.state('sum-1s').size, 0)
})

test('tumbling, several keys: windows ending together are emitted in key order', () => {
  const src = readings('tt-keys-in')
  const out = topic<Windowed<number>>('tt-keys-out')
  const p = pipeline('tt-keys')
  p.from(src)
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'count-1s' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('b', 10))
  d.pipe(src, r('a', 20))
  d.pipe(src, r('b', 30))
  d.pipe(src, r('a', 1100))
  // W = 1100 closes [0, 1000): a has 1 (20), b has 2 (10, 30); a before b.
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 1 },
    { key: 'b', start: 0, end: 1000, value: 2 },
  ])
})

test('out of order within maxOutOfOrder still counts; beyond it the record is late', () => {
  const src = readings('tt-ooo-in')
  const out = topic<Windowed<number>>('tt-ooo-out')
  const p = pipeline('tt-ooo')
  p.from(src, { watermark: { maxOutOfOrder: 500 } })
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(
      sum((x: Reading) => x.v),
      { name: 'sum-ooo' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 100, 1)) // W = 100 − 500 = −400
  d.pipe(src, r('a', 1200, 10)) // W = 1200 − 500 = 700
  d.pipe(src, r('a', 800, 100)) // behind the newest, but W = 700 < 1000: [0, 1000) is open
  assert.equal(d.watermarks()['tt-ooo/0/0'], 700)
  assert.deepEqual(d.values(out), [])
  d.pipe(src, r('a', 1600, 1000)) // W = 1100: [0, 1000) closes with 1 + 100 = 101
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: 101 }])
  d.pipe(src, r('a', 900, 10000)) // its window [0, 1000) is closed: late, dropped and counted
  assert.equal(d.lateRecords(), 1)
  d.advanceWatermark(2000) // [1000, 2000) closes with 10 + 1000 = 1010
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 101 },
    { key: 'a', start: 1000, end: 2000, value: 1010 },
  ])
})

test('allowedLateness: late records update the window until W ≥ end + lateness; later ones go to `late`', () => {
  const src = readings('tt-lateness-in')
  const out = topic<Windowed<number>>('tt-lateness-out')
  // `late` takes a TopicDef<unknown> (a typed TopicDef<Reading> is rejected by the types).
  const late = topic('tt-lateness-late')
  const p = pipeline('tt-lateness')
  p.from(src)
    .keyed()
    .window(tumbling({ size: 1000 }), { allowedLateness: 500, late })
    .aggregate(
      sum((x: Reading) => x.v),
      { name: 'sum-late' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 100, 1))
  d.pipe(src, r('a', 1200, 2)) // W = 1200: [0, 1000) complete, but open until W ≥ 1500
  d.pipe(src, r('a', 300, 4)) // late by 900, within lateness: [0, 1000) = 1 + 4
  d.pipe(src, r('a', 1499, 8)) // W = 1499: still open
  assert.deepEqual(d.values(out), [])
  assert.equal(d.lateRecords(), 0)
  d.pipe(src, r('a', 1500, 16)) // W = 1500 ≥ 1000 + 500: [0, 1000) closes with 5
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: 5 }])
  d.pipe(src, r('a', 400, 32)) // [0, 1000) is closed: late, to the late topic
  assert.equal(d.lateRecords(), 1)
  assert.deepEqual(
    d.output(late).map((o) => [o.key, o.value, o.timestamp]),
    [['a', { sensor: 'a', v: 32, at: 400 }, 400]],
  )
  d.advanceWatermark(2500) // [1000, 2000) closes (2000 + 500 ≤ 2500) with 2 + 8 + 16 = 26
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 5 },
    { key: 'a', start: 1000, end: 2000, value: 26 },
  ])
})

test("emit: 'update' emits after every change, including late updates, and nothing on close", () => {
  const src = readings('tt-update-in')
  const out = topic<Windowed<number>>('tt-update-out')
  const p = pipeline('tt-update')
  p.from(src)
    .keyed()
    .window(tumbling({ size: 1000 }), { emit: 'update', allowedLateness: 500 })
    .aggregate(count(), { name: 'count-upd' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 100)) // [0, 1000) → 1
  d.pipe(src, r('a', 1200)) // [1000, 2000) → 1 (W = 1200)
  d.pipe(src, r('a', 300)) // within lateness: [0, 1000) → 2
  d.pipe(src, r('a', 1500)) // [1000, 2000) → 2; W = 1500 closes [0, 1000) silently
  d.pipe(src, r('a', 400)) // [0, 1000) closed: late, no output
  d.advanceWatermark(10_000) // closes [1000, 2000): no output in update mode
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 1 },
    { key: 'a', start: 1000, end: 2000, value: 1 },
    { key: 'a', start: 0, end: 1000, value: 2 },
    { key: 'a', start: 1000, end: 2000, value: 2 },
  ])
  assert.equal(d.lateRecords(), 1)
  assert.equal(d.state('count-upd').size, 0)
})

test('hopping: a record counts in size/advance windows; a record still fits its open windows', () => {
  const src = readings('tt-hop-in')
  const out = topic<Windowed<number>>('tt-hop-out')
  const p = pipeline('tt-hop')
  p.from(src)
    .keyed()
    .window(hopping({ size: 1000, advance: 500 }))
    .aggregate(count(), { name: 'count-hop' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 700)) // in [0, 1000) and [500, 1500)
  d.pipe(src, r('a', 1200)) // in [500, 1500) and [1000, 2000); W = 1200 closes [0, 1000) = 1
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: 1 }])
  d.pipe(src, r('a', 800)) // [0, 1000) closed, [500, 1500) open: counted there, not late
  d.pipe(src, r('a', 1499)) // in [500, 1500) and [1000, 2000)
  assert.equal(d.lateRecords(), 0)
  d.advanceWatermark(1500) // [500, 1500): 700, 1200, 800, 1499 = 4
  d.advanceWatermark(2000) // [1000, 2000): 1200, 1499 = 2
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 1 },
    { key: 'a', start: 500, end: 1500, value: 4 },
    { key: 'a', start: 1000, end: 2000, value: 2 },
  ])
})

test('sliding({ size, every }) is hopping({ size, advance: every })', () => {
  const src = readings('tt-slide-in')
  const out = topic<Windowed<number>>('tt-slide-out')
  const p = pipeline('tt-slide')
  p.from(src)
    .keyed()
    .window(sliding({ size: '1s', every: '500ms' }))
    .aggregate(count(), { name: 'count-slide' })
    .to(out)
  const d = new TestDriver(p)
  assert.match(
    d.describe(),
    /window-aggregate count-slide \[hopping 1000ms every 500ms, lateness 0ms, emit final\]/,
  )
  d.pipe(src, r('a', 250)) // [-500, 500) and [0, 1000)
  d.pipe(src, r('a', 600)) // [0, 1000) and [500, 1500)
  d.advanceWatermark(1500)
  // Closed in end order: [-500, 500) = 1 (250), [0, 1000) = 2, [500, 1500) = 1 (600).
  assert.deepEqual(d.values(out), [
    { key: 'a', start: -500, end: 500, value: 1 },
    { key: 'a', start: 0, end: 1000, value: 2 },
    { key: 'a', start: 500, end: 1500, value: 1 },
  ])
})

test('built-in aggregations: count, sum, min, max, avg, distinctCount', () => {
  interface Sale {
    shop: string
    amount: number
    buyer: string
    at: number
  }
  const sales = topic<Sale>('tt-aggs-in', { key: (s) => s.shop, timestamp: (s) => s.at })
  const p = pipeline('tt-aggs')
  // One windowed stream, fanned out to six aggregations.
  const windowed = p
    .from(sales)
    .keyed()
    .window(tumbling({ size: 1000 }))
  const outs = {
    count: topic<Windowed<number>>('tt-aggs-count'),
    sum: topic<Windowed<number>>('tt-aggs-sum'),
    min: topic<Windowed<number | null>>('tt-aggs-min'),
    max: topic<Windowed<number | null>>('tt-aggs-max'),
    avg: topic<Windowed<number | null>>('tt-aggs-avg'),
    distinct: topic<Windowed<number>>('tt-aggs-distinct'),
  }
  windowed.aggregate(count(), { name: 'n' }).to(outs.count)
  windowed
    .aggregate(
      sum((s: Sale) => s.amount),
      { name: 'total' },
    )
    .to(outs.sum)
  windowed
    .aggregate(
      min((s: Sale) => s.amount),
      { name: 'lowest' },
    )
    .to(outs.min)
  windowed
    .aggregate(
      max((s: Sale) => s.amount),
      { name: 'highest' },
    )
    .to(outs.max)
  windowed
    .aggregate(
      avg((s: Sale) => s.amount),
      { name: 'mean' },
    )
    .to(outs.avg)
  windowed
    .aggregate(
      distinctCount((s: Sale) => s.buyer),
      { name: 'buyers' },
    )
    .to(outs.distinct)
  const d = new TestDriver(p)
  d.pipe(sales, { shop: 's', amount: 5, buyer: 'x', at: 100 })
  d.pipe(sales, { shop: 's', amount: 3, buyer: 'y', at: 200 })
  d.pipe(sales, { shop: 's', amount: 8, buyer: 'x', at: 300 })
  d.pipe(sales, { shop: 's', amount: 3, buyer: 'z', at: 400 })
  d.advanceWatermark(1000)
  const only = <R>(t: TopicDef<Windowed<R>>): R[] => d.values(t).map((w) => w.value)
  // Amounts 5, 3, 8, 3; buyers x, y, x, z.
  assert.deepEqual(only(outs.count), [4])
  assert.deepEqual(only(outs.sum), [19]) // 5 + 3 + 8 + 3
  assert.deepEqual(only(outs.min), [3])
  assert.deepEqual(only(outs.max), [8])
  assert.deepEqual(only(outs.avg), [4.75]) // 19 / 4
  assert.deepEqual(only(outs.distinct), [3]) // x, y, z
})

test('a custom aggregator: result() turns the stored accumulator into the emitted value', () => {
  interface Span {
    lo: number
    hi: number
    n: number
  }
  const range: Aggregator<Reading, Span | null, string> = {
    init: () => null,
    add: (acc, x) =>
      acc === null
        ? { lo: x.v, hi: x.v, n: 1 }
        : { lo: Math.min(acc.lo, x.v), hi: Math.max(acc.hi, x.v), n: acc.n + 1 },
    result: (acc) => (acc === null ? 'empty' : `${acc.hi - acc.lo} over ${acc.n}`),
  }
  const src = readings('tt-custom-in')
  const out = topic<Windowed<string>>('tt-custom-out')
  const p = pipeline('tt-custom')
  p.from(src)
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(range, { name: 'range' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 100, 7))
  d.pipe(src, r('a', 200, 2))
  d.pipe(src, r('a', 300, 11))
  // Before the close, the store holds the accumulator, not the result: lo 2, hi 11, n 3.
  assert.deepEqual([...d.state('range')], [['a\u00000', { end: 1000, acc: { lo: 2, hi: 11, n: 3 } }]])
  d.advanceWatermark(1000)
  // result(): 11 − 2 = 9 over 3 records.
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: '9 over 3' }])
})

test('the late topic read back by name is decoded with its own codec', () => {
  // Regression (driver): output('<name>') only knew the codecs of sources and sinks, so a
  // late topic with a non-JSON codec was parsed as JSON and threw.
  const words = topic('tt-late-codec-in', { codec: stringCodec as Codec<unknown> })
  const late = topic('tt-late-codec-late', { codec: stringCodec as Codec<unknown> })
  const out = topic<Windowed<number>>('tt-late-codec-out')
  const p = pipeline('tt-late-codec')
  p.from(words)
    .keyed()
    .window(tumbling({ size: 1000 }), { late })
    .aggregate(count(), { name: 'words' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(words, 'on-time', { key: 'k', timestamp: 2000 })
  d.pipe(words, 'too-late', { key: 'k', timestamp: 500 }) // [0, 1000) closed at W = 2000
  assert.deepEqual(d.values('tt-late-codec-late'), ['too-late'])
})

test('window results feed a downstream window, which closes on the same watermark', () => {
  const src = readings('tt-stages-in')
  const out = topic<Windowed<number>>('tt-stages-out')
  const p = pipeline('tt-stages')
  p.from(src)
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'per-second' })
    .keyed()
    .window(tumbling({ size: 2000 }))
    .aggregate(
      sum((w: Windowed<number>) => w.value),
      { name: 'per-two-seconds' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, r('a', 100))
  d.pipe(src, r('a', 1100))
  d.pipe(src, r('a', 1200))
  d.pipe(src, r('a', 2100))
  // W = 2100: per-second emits [0, 1000) = 1 (event time 999) and [1000, 2000) = 2 (1999);
  // both land in per-two-seconds [0, 2000), which the same watermark then closes: 1 + 2 = 3.
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 2000, value: 3 }])
})
