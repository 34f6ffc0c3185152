/**
 * Stateless steps through the TestDriver: map, filter, flatMap, peek, forEach, merge, split,
 * to(), and a keyBy repartition that brings one key's records from several partitions into
 * one window. Every expected array is written out by hand from the inputs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { count, pipeline, topic, tumbling, type Windowed } from 'sluice'
import { type OutputRecord, TestDriver } from 'sluice/testing'

/** Key, value and timestamp of each output record (partition and headers left out). */
function records<T>(out: Array<OutputRecord<T>>): Array<{ key: string | null; value: T; timestamp: number }> {
  return out.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))
}

test('map transforms values and keeps each record key and timestamp', () => {
  const nums = topic<number>('st-map-in')
  const out = topic<number>('st-map-out')
  const p = pipeline('st-map')
  p.from(nums)
    .map((n) => n * 10)
    .to(out)
  const d = new TestDriver(p)
  d.pipe(nums, 1, { key: 'a', timestamp: 5 })
  d.pipe(nums, 2, { key: 'b', timestamp: 6 })
  d.pipe(nums, 3, { timestamp: 7 })
  // Each value ×10; keys a, b, none and timestamps 5, 6, 7 pass through unchanged.
  assert.deepEqual(records(d.output(out)), [
    { key: 'a', value: 10, timestamp: 5 },
    { key: 'b', value: 20, timestamp: 6 },
    { key: null, value: 30, timestamp: 7 },
  ])
})

test('filter keeps matching records; a type-guard filter narrows the stream type', () => {
  interface Click {
    kind: 'click'
    x: number
  }
  interface View {
    kind: 'view'
    page: string
  }
  type Event = Click | View
  const events = topic<Event>('st-filter-in')
  const evens = topic<number>('st-filter-evens')
  const xs = topic<number>('st-filter-xs')
  const p = pipeline('st-filter')
  const src = p.from(events)
  src
    .map((e) => (e.kind === 'click' ? e.x : e.page.length))
    .filter((n) => n % 2 === 0)
    .to(evens)
  src
    .filter((e): e is Click => e.kind === 'click')
    // `c.x` only compiles because the guard narrowed Event to Click.
    .map((c) => c.x)
    .to(xs)
  const d = new TestDriver(p)
  d.pipe(events, { kind: 'click', x: 4 }, { key: 'k1' })
  d.pipe(events, { kind: 'view', page: 'abc' }, { key: 'k2' })
  d.pipe(events, { kind: 'click', x: 7 }, { key: 'k3' })
  d.pipe(events, { kind: 'view', page: 'home' }, { key: 'k4' })
  // Mapped numbers 4, 3 ('abc'.length), 7, 4 ('home'.length); the even ones are 4 (k1) and 4 (k4).
  assert.deepEqual(
    d.output(evens).map((r) => [r.key, r.value]),
    [
      ['k1', 4],
      ['k4', 4],
    ],
  )
  // Only the clicks pass the guard: x = 4 (k1) and 7 (k3).
  assert.deepEqual(
    d.output(xs).map((r) => [r.key, r.value]),
    [
      ['k1', 4],
      ['k3', 7],
    ],
  )
})

test('flatMap emits zero or more records per input, each with the input key and timestamp', () => {
  const lines = topic<string>('st-flat-in')
  const words = topic<string>('st-flat-out')
  const p = pipeline('st-flat')
  p.from(lines)
    .flatMap((line) => line.split(' ').filter((w) => w.length > 0))
    .to(words)
  const d = new TestDriver(p)
  d.pipe(lines, 'to be', { key: 'l1', timestamp: 100 })
  d.pipe(lines, '', { key: 'l2', timestamp: 200 })
  d.pipe(lines, 'or not', { key: 'l3', timestamp: 300 })
  // 'to be' → to, be; '' → nothing; 'or not' → or, not.
  assert.deepEqual(records(d.output(words)), [
    { key: 'l1', value: 'to', timestamp: 100 },
    { key: 'l1', value: 'be', timestamp: 100 },
    { key: 'l3', value: 'or', timestamp: 300 },
    { key: 'l3', value: 'not', timestamp: 300 },
  ])
})

test('peek sees every record without changing it; forEach is a terminal side effect', () => {
  const nums = topic<number>('st-peek-in')
  const out = topic<number>('st-peek-out')
  const peeked: number[] = []
  const seen: number[] = []
  const p = pipeline('st-peek')
  const src = p.from(nums)
  src
    .peek((n) => {
      peeked.push(n)
    })
    .to(out)
  src
    .filter((n) => n > 1)
    .forEach((n) => {
      seen.push(n * 100)
    })
  const d = new TestDriver(p)
  d.pipe(nums, 1).pipe(nums, 2).pipe(nums, 3)
  // peek saw 1, 2, 3 and passed them through unchanged.
  assert.deepEqual(peeked, [1, 2, 3])
  assert.deepEqual(d.values(out), [1, 2, 3])
  // forEach ran for 2 and 3 (the filter dropped 1), ×100.
  assert.deepEqual(seen, [200, 300])
})

test('merge joins two source topics into one stream', () => {
  const web = topic<{ user: string; from: string }>('st-merge-web')
  const app = topic<{ user: string; from: string }>('st-merge-app')
  const all = topic<string>('st-merge-all')
  const p = pipeline('st-merge')
  p.from(web)
    .merge(p.from(app))
    .map((e) => `${e.user}@${e.from}`)
    .to(all)
  const d = new TestDriver(p)
  d.pipe(web, { user: 'ann', from: 'web' }, { key: 'ann', timestamp: 1 })
  d.pipe(app, { user: 'bob', from: 'app' }, { key: 'bob', timestamp: 2 })
  d.pipe(web, { user: 'cid', from: 'web' }, { key: 'cid', timestamp: 3 })
  // Records from both topics, in the order they were piped, keys kept.
  assert.deepEqual(records(d.output(all)), [
    { key: 'ann', value: 'ann@web', timestamp: 1 },
    { key: 'bob', value: 'bob@app', timestamp: 2 },
    { key: 'cid', value: 'cid@web', timestamp: 3 },
  ])
})

test('split sends each record to the first matching branch, or to default', () => {
  const amounts = topic<number>('st-split-in')
  const bigT = topic<number>('st-split-big')
  const mediumT = topic<number>('st-split-medium')
  const restT = topic<number>('st-split-rest')
  const p = pipeline('st-split')
  const {
    big,
    medium,
    default: rest,
  } = p.from(amounts).split({
    big: (n) => n > 100,
    medium: (n) => n > 10,
  })
  big.to(bigT)
  medium.to(mediumT)
  rest.to(restT)
  const d = new TestDriver(p)
  for (const n of [500, 50, 5, 101, 11, 10]) d.pipe(amounts, n)
  // 500 and 101 match both predicates: the first (big) wins. 50 and 11 only match medium.
  // 5 and 10 match neither (10 > 10 is false) and go to default.
  assert.deepEqual(d.values(bigT), [500, 101])
  assert.deepEqual(d.values(mediumT), [50, 11])
  assert.deepEqual(d.values(restT), [5, 10])
})

test('to() keeps record keys; a sink topic key function fills in only missing keys', () => {
  interface Order {
    id: string
    total: number
  }
  const orders = topic<Order>('st-to-in')
  const plain = topic<Order>('st-to-plain')
  const byId = topic<Order>('st-to-by-id', { key: (o) => `order-${o.id}` })
  const p = pipeline('st-to')
  const src = p.from(orders)
  src.to(plain)
  src.to(byId)
  const d = new TestDriver(p)
  d.pipe(orders, { id: '1', total: 10 }, { key: 'cust-7', timestamp: 50 })
  d.pipe(orders, { id: '2', total: 20 }, { timestamp: 60 })
  // Plain sink: the record keys as piped (cust-7, then none).
  assert.deepEqual(records(d.output(plain)), [
    { key: 'cust-7', value: { id: '1', total: 10 }, timestamp: 50 },
    { key: null, value: { id: '2', total: 20 }, timestamp: 60 },
  ])
  // Keyed sink: cust-7 is kept; the unkeyed record gets order-2 from the topic's key function.
  assert.deepEqual(records(d.output(byId)), [
    { key: 'cust-7', value: { id: '1', total: 10 }, timestamp: 50 },
    { key: 'order-2', value: { id: '2', total: 20 }, timestamp: 60 },
  ])
})

test('keyBy repartitions: one key from three source partitions meets in one window', () => {
  interface Tap {
    device: string
    user: string
    at: number
  }
  const taps = topic<Tap>('st-rekey-taps', { key: (t) => t.device, timestamp: (t) => t.at })
  const perUser = topic<Windowed<number>>('st-rekey-per-user')
  const p = pipeline('st-rekey')
  p.from(taps)
    .keyBy((t) => t.user)
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'taps-per-user' })
    .to(perUser)
  const d = new TestDriver(p, { partitions: 3 })
  // Device keys x, y, z hash (Kafka murmur2, 3 partitions) to partitions 1, 0, 2.
  d.pipe(taps, { device: 'x', user: 'u1', at: 100 }, { key: 'x' })
  d.pipe(taps, { device: 'y', user: 'u1', at: 200 }, { key: 'y' })
  d.pipe(taps, { device: 'z', user: 'u1', at: 300 }, { key: 'z' })
  d.pipe(taps, { device: 'y', user: 'u2', at: 400 }, { key: 'y' })
  d.pipe(taps, { device: 'x', user: 'u1', at: 1500 }, { key: 'x' })
  // The premise: u1's first three taps were read by three different source tasks.
  assert.deepEqual(
    d.output(taps).map((r) => [r.key, r.partition]),
    [
      ['y', 0],
      ['y', 0],
      ['x', 1],
      ['x', 1],
      ['z', 2],
    ],
  )
  assert.deepEqual(
    d.topology.repartitionTopics.map((r) => r.topic),
    ['st-rekey-taps-per-user-by-repartition'],
  )
  d.advanceWatermark(2000)
  // The sink is keyed by user, so results sit on the user's partition: order by key, then start.
  const results = d
    .output(perUser)
    .sort((a, b) => a.value.key.localeCompare(b.value.key) || a.value.start - b.value.start)
  // [0, 1000): u1 has 100, 200, 300 (three partitions, one count of 3); u2 has 400.
  // [1000, 2000): u1 has 1500. Results are keyed by the new key (the user).
  assert.deepEqual(
    results.map((r) => [r.key, r.value]),
    [
      ['u1', { key: 'u1', start: 0, end: 1000, value: 3 }],
      ['u1', { key: 'u1', start: 1000, end: 2000, value: 1 }],
      ['u2', { key: 'u2', start: 0, end: 1000, value: 1 }],
    ],
  )
})

test('two streams read from the same topic each see every record', () => {
  interface N {
    k: string
    n: number
    at: number
  }
  const nums = topic<N>('st-twice-in', { key: (x) => x.k, timestamp: (x) => x.at })
  const out = topic<Windowed<number>>('st-twice-out')
  const p = pipeline('st-twice')
  const big = p.from(nums).filter((x) => x.n > 10)
  const odd = p.from(nums).filter((x) => x.n % 2 === 1)
  big
    .merge(odd)
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'matches' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(nums, { k: 'a', n: 11, at: 100 }) // big and odd: counted twice
  d.pipe(nums, { k: 'a', n: 2, at: 200 }) // neither
  d.pipe(nums, { k: 'a', n: 3, at: 1500 }) // odd; W = 1500 closes [0, 1000) = 2
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: 2 }])
})
