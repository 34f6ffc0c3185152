/**
 * The claims of docs/concepts/*.md, checked on the examples those pages quote
 * (examples/tutorial/concepts/) and on small pipelines written here. Expectations by hand.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Keyed, pipeline, topic, tumbling } from 'sluice'
import { TestDriver } from 'sluice/testing'
import {
  type Customer,
  customers,
  late,
  orders,
  ordersWithTier,
  priced,
  shipments,
  slowShipments,
} from '../../../examples/tutorial/concepts/joins.ts'
import {
  abandoned,
  abandonedCarts,
  type CartEvent,
  cartEvents,
} from '../../../examples/tutorial/concepts/patterns.ts'
import { heartbeats, silences, silentDevices } from '../../../examples/tutorial/concepts/state.ts'
import {
  lateReadings,
  perMinute,
  readings,
  readingsPerMinute,
} from '../../../examples/tutorial/concepts/time.ts'
import {
  clicks,
  perMinute as clicksOut,
  clicksPerMinute,
  lateClicks,
  loadTimePerPage,
  loadTimes,
  userVisits,
  visits,
} from '../../../examples/tutorial/concepts/windows.ts'

const T = Date.parse('2026-03-02T10:00:00Z')
const s = (seconds: number) => T + seconds * 1000
const iso = (ms: number) => new Date(ms).toISOString()

test('time: out-of-order within maxOutOfOrder counts; behind the watermark goes to the late topic', () => {
  const d = new TestDriver(readingsPerMinute())
  const read = (sec: number) => d.pipe(readings, { sensor: 's1', celsius: 20, at: iso(s(sec)) })
  read(10)
  read(50)
  read(47) // 3 s behind the newest: on time
  assert.deepEqual(d.watermarks(), { 'readings-per-minute/0/0': s(45) })
  assert.deepEqual(d.values(perMinute), [])
  read(65) // watermark 10:01:00: [10:00, 10:01) closes
  assert.deepEqual(d.values(perMinute), [{ key: 's1', start: s(0), end: s(60), value: 3 }])
  read(58) // behind the watermark, its window closed: late
  assert.deepEqual(
    d.values(lateReadings).map((r) => r.at),
    [iso(s(58))],
  )
  assert.equal(d.lateRecords(), 1)
})

test("time: advance 'processing-time' closes the last window once the input is idle and the clock has moved", () => {
  const d = new TestDriver(readingsPerMinute())
  d.pipe(readings, { sensor: 's1', celsius: 20, at: iso(s(65)) })
  d.advanceTime(59_000)
  assert.deepEqual(d.values(perMinute), [], 'not idle yet: the watermark stays at 10:01:00')
  // Idle at 60 s: event time = the reading's time + the 60 s since − maxOutOfOrder = 10:02:00.
  d.advanceTime(1_000)
  assert.deepEqual(d.values(perMinute), [{ key: 's1', start: s(60), end: s(120), value: 1 }])
})

test('time: without advance, idleness does not move event time; a far-future timestamp makes the rest late', () => {
  const p = pipeline('no-advance')
  const src = topic<{ at: number }>('na-in', { timestamp: (r) => r.at })
  const out = topic<unknown>('na-out')
  p.from(src, { watermark: { maxOutOfOrder: '5s', idleAfter: '1m' } })
    .keyBy(() => 'all', { name: 'all' })
    .window(tumbling({ size: '1m' }))
    .aggregate({ init: () => 0, add: (n: number) => n + 1 }, { name: 'n' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, { at: s(30) })
  d.advanceTime(3_600_000)
  assert.deepEqual(d.values(out), [], 'an hour idle: the window [10:00, 10:01) is still open')
  d.pipe(src, { at: Date.parse('2099-01-01T00:00:00Z') }) // a clock gone wrong
  d.pipe(src, { at: s(40) })
  assert.equal(d.lateRecords(), 1, 'a record at 10:00:40 is now behind the watermark')
})

test('windows: tumbling windows close at end + allowedLateness; a record within the lateness still counts', () => {
  const d = new TestDriver(clicksPerMinute())
  const click = (sec: number) => d.pipe(clicks, { user: 'u1', page: '/', ms: 100, at: s(sec) })
  click(5)
  click(70) // watermark 10:01:00: [10:00, 10:01) is complete, but stays open 30 s more
  click(30) // late for the watermark, within the allowed lateness: counted
  assert.deepEqual(d.values(clicksOut), [])
  click(100) // watermark 10:01:30 = end + 30 s: closes
  assert.deepEqual(d.values(clicksOut), [{ key: 'u1', start: s(0), end: s(60), value: 2 }])
  click(20) // its only window is closed: late
  assert.deepEqual(
    d.values(lateClicks).map((c) => c.at),
    [s(20)],
  )
  assert.equal(d.output(clicksOut)[0]!.timestamp, s(60) - 1, 'a result carries its window end − 1')
})

test("windows: emit 'update' emits every change of each window a record falls in; sliding = hopping", () => {
  const d = new TestDriver(loadTimePerPage())
  d.pipe(clicks, { user: 'u1', page: '/a', ms: 100, at: s(90) })
  // 10:01:30 falls in the five 5-minute windows starting 09:57 … 10:01.
  assert.deepEqual(
    d.values(loadTimes).map((w) => [iso(w.start).slice(11, 16), w.value]),
    [
      ['09:57', 100],
      ['09:58', 100],
      ['09:59', 100],
      ['10:00', 100],
      ['10:01', 100],
    ],
  )
  d.pipe(clicks, { user: 'u2', page: '/a', ms: 300, at: s(95) })
  assert.deepEqual(
    d
      .values(loadTimes)
      .slice(5)
      .map((w) => w.value),
    [200, 200, 200, 200, 200],
  )
  d.advanceWatermark(s(3600))
  assert.equal(d.values(loadTimes).length, 10, 'update mode emits nothing more when windows close')
})

test('windows: sessions merge when a record bridges them and close when the watermark passes end', () => {
  const d = new TestDriver(userVisits())
  const click = (minute: number, page: string) =>
    d.pipe(clicks, { user: 'u1', page, ms: 1, at: s(minute * 60) })
  click(0, '/a') // session [10:00, 10:30)
  click(31, '/b') // 31 min later: a second session, [10:31, 11:01); the watermark is 10:30
  click(15, '/c') // within 30 min of both: bridges them into one
  d.advanceWatermark(s(61 * 60))
  assert.deepEqual(
    d.values(visits),
    [],
    'the merged session [10:00, 11:01) closes once the watermark is past 11:01',
  )
  d.advanceWatermark(s(61 * 60) + 1)
  assert.deepEqual(d.values(visits), [
    { key: 'u1', start: s(0), end: s(61 * 60), value: { clicks: 3, pages: ['/a', '/c', '/b'] } },
  ])
})

test('state: an event-time timer per heartbeat; only the last one reports silence', () => {
  const d = new TestDriver(silentDevices())
  d.pipe(heartbeats, { device: 'd1', at: s(0) })
  d.pipe(heartbeats, { device: 'd1', at: s(30) })
  d.advanceWatermark(s(60)) // the first timer fires: a newer heartbeat came since
  assert.deepEqual(d.values(silences), [])
  d.advanceWatermark(s(90))
  assert.deepEqual(d.values(silences), [{ device: 'd1', since: s(30) }])
  assert.deepEqual(d.output(silences)[0]!.timestamp, s(90), 'emitted at the timer time')
  d.advanceTime(7 * 24 * 3_600_000)
  assert.equal(d.store('last-heartbeat').get('d1'), undefined, 'the TTL dropped the state')
})

test('state: a record that fails after changing state is dead-lettered, and the change is not committed', () => {
  const src = topic<{ n: number }>('fail-in')
  const out = topic<number>('fail-out')
  const p = pipeline('fail-after-set')
  p.from(src)
    .keyed()
    .process<number, number>({
      name: 'count',
      process(v, ctx) {
        ctx.state.set((ctx.state.get() ?? 0) + 1)
        if (v.n < 0) throw new Error('negative')
        ctx.emit(ctx.state.get()!)
      },
    })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, { n: 1 }, { key: 'k' })
  d.pipe(src, { n: -1 }, { key: 'k' })
  d.pipe(src, { n: 1 }, { key: 'k' })
  assert.equal(d.deadLetters().length, 1)
  assert.deepEqual(d.values(out), [1, 2], 'the failed record left no count behind: 1, then 2')
})

test('state: a running aggregate answers queries by key', () => {
  const src = topic<{ amount: number }>('agg-in')
  const p = pipeline('totals')
  p.from(src)
    .keyed()
    .aggregate({ init: () => 0, add: (t: number, v: { amount: number }) => t + v.amount }, { name: 'total' })
    .to(topic<Keyed<number>>('agg-out'))
  const d = new TestDriver(p)
  d.pipe(src, { amount: 5 }, { key: 'a' })
  d.pipe(src, { amount: 7 }, { key: 'a' })
  assert.equal(d.store('total').get('a'), 12)
})

test('joins: an order joins the customer tier valid at its event time, even when the update was read first', () => {
  const d = new TestDriver(ordersWithTier())
  d.pipe<Customer>(customers, { id: 'c1', tier: 'basic', updatedAt: s(0) })
  d.pipe<Customer>(customers, { id: 'c1', tier: 'gold', updatedAt: s(300) }) // upgraded at 10:05
  d.pipe(orders, { id: 'o1', customer: 'c1', amount: 10, at: s(180) }) // ordered at 10:03
  d.pipe(orders, { id: 'o2', customer: 'c1', amount: 10, at: s(310) })
  // o1 (10:03) joins at once: the table's event time (10:05) is past it. o2 (10:05:10) waits:
  // an update at 10:05:05 could still come, until the table is idle (1 s by default).
  assert.deepEqual(
    d.values(priced).map((o) => `${o.id} ${o.tier}`),
    ['o1 basic'],
  )
  d.advanceTime(1_000)
  assert.deepEqual(
    d.values(priced).map((o) => `${o.id} ${o.tier}`),
    ['o1 basic', 'o2 gold'],
  )
  d.pipe(orders, { id: 'o3', customer: 'nobody', amount: 1, at: s(320) })
  d.advanceTime(1_000)
  assert.equal(d.values(priced).length, 2, 'an inner join drops an order whose customer has no row')
})

test('joins: the left join emits an unpaired order once the watermark has passed its hour', () => {
  const d = new TestDriver(slowShipments())
  d.pipe(orders, { id: 'o1', customer: 'c', amount: 1, at: s(0) })
  d.pipe(orders, { id: 'o2', customer: 'c', amount: 1, at: s(0) })
  d.pipe(shipments, { order: 'o1', at: s(1200) })
  d.advanceWatermark(s(3600))
  assert.deepEqual(d.values(late), [], 'o2 could still ship at exactly 11:00')
  d.advanceWatermark(s(3600) + 1)
  assert.deepEqual(d.values(late), [{ order: 'o2', shippedAfterMs: null }])
})

test('patterns: an add with no checkout is reported when 30 minutes of event time have passed', () => {
  const d = new TestDriver(abandonedCarts())
  d.pipe<CartEvent>(cartEvents, { user: 'u1', kind: 'add', at: s(0) })
  d.pipe<CartEvent>(cartEvents, { user: 'u2', kind: 'add', at: s(60) })
  d.pipe<CartEvent>(cartEvents, { user: 'u2', kind: 'checkout', at: s(600) })
  d.advanceWatermark(s(1800))
  assert.deepEqual(d.values(abandoned), [], 'at 10:30 exactly, u1 may still check out')
  d.advanceWatermark(s(1801))
  assert.deepEqual(d.values(abandoned), [{ user: 'u1', addedAt: s(0) }])
  assert.equal(d.output(abandoned)[0]!.timestamp, s(1800), 'the match ends at start + within')
  d.pipe<CartEvent>(cartEvents, { user: 'u3', kind: 'add', at: s(10) }) // behind the watermark: late
  d.advanceWatermark(s(7200))
  assert.equal(d.values(abandoned).length, 1, 'a late event is dropped')
  assert.equal(d.lateRecords(), 1, 'and counted as a late record')
})
