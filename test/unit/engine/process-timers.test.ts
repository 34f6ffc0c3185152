/**
 * process(): per-key state and timers, TTL, and the running (unwindowed) aggregate, through
 * the TestDriver. Event-time timers fire when the watermark reaches them; processing-time
 * timers when driver.advanceTime moves the clock past them. Expected outputs are computed by
 * hand in the comments.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Aggregator, type Keyed, type Processor, pipeline, sum, topic } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Ping {
  device: string
  cmd?: 'reset'
  at: number
}

function pings(name: string) {
  return topic<Ping>(name, { key: (p) => p.device, timestamp: (p) => p.at })
}

test('keyed state: get/set/delete act on the current record key only', () => {
  const src = pings('pt-state-in')
  const out = topic<{ device: string; n: number | 'reset' }>('pt-state-out')
  const counter: Processor<Ping, { device: string; n: number | 'reset' }, number> = {
    name: 'counter',
    process(ping, ctx) {
      if (ping.cmd === 'reset') {
        ctx.state.delete()
        ctx.emit({ device: ctx.key, n: 'reset' })
        return
      }
      const n = (ctx.state.get() ?? 0) + 1
      ctx.state.set(n)
      ctx.emit({ device: ctx.key, n })
    },
  }
  const p = pipeline('pt-state')
  p.from(src).process(counter).to(out)
  const d = new TestDriver(p)
  d.pipe(src, { device: 'a', at: 1 })
  d.pipe(src, { device: 'b', at: 2 })
  d.pipe(src, { device: 'a', at: 3 })
  d.pipe(src, { device: 'a', cmd: 'reset', at: 4 })
  d.pipe(src, { device: 'a', at: 5 })
  // a: 1, 2, reset (state deleted), 1 again; b: 1, untouched by a's reset.
  assert.deepEqual(
    d.output(out).map((r) => [r.key, r.value.n]),
    [
      ['a', 1],
      ['b', 1],
      ['a', 2],
      ['a', 'reset'],
      ['a', 1],
    ],
  )
  assert.deepEqual([...d.state('counter')].sort(), [
    ['a', 1],
    ['b', 1],
  ])
})

test('event-time timers fire when the watermark reaches them, once per key and time', () => {
  const src = pings('pt-event-in')
  interface Fired {
    device: string
    time: number
    kind: string
    timestamp: number
  }
  const out = topic<Fired>('pt-event-out')
  const p = pipeline('pt-event')
  p.from(src)
    .process<Fired>({
      name: 'expire-after-1s',
      process(_ping, ctx) {
        ctx.timers.eventTime(ctx.timestamp + 1000)
      },
      onTimer(timer, ctx) {
        ctx.emit({ device: ctx.key, time: timer.time, kind: timer.kind, timestamp: ctx.timestamp })
      },
    })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, { device: 'a', at: 100 }) // timer a@1100
  d.pipe(src, { device: 'a', at: 100 }) // the same timer again: registered once
  d.pipe(src, { device: 'b', at: 500 }) // timer b@1500
  d.advanceWatermark(1099)
  assert.deepEqual(d.values(out), [])
  d.advanceWatermark(1100) // W = 1100 reaches a@1100
  d.pipe(src, { device: 'c', at: 1600 }) // W = 1600 passes b@1500 (c's timer is at 2600)
  // Each emit carries the timer's key, and the timer time as its event time.
  assert.deepEqual(
    d.output(out).map((r) => [r.key, r.value, r.timestamp]),
    [
      ['a', { device: 'a', time: 1100, kind: 'event', timestamp: 1100 }, 1100],
      ['b', { device: 'b', time: 1500, kind: 'event', timestamp: 1500 }, 1500],
    ],
  )
})

test('processing-time timers fire as driver.advanceTime moves the clock', () => {
  const src = pings('pt-proc-in')
  const out = topic<{ silent: string; since: number }>('pt-proc-out')
  // The example from the Processor docs: report a device silent for a minute.
  const silence: Processor<Ping, { silent: string; since: number }, { last: number; deadline: number }> = {
    name: 'silence',
    process(_ping, ctx) {
      const deadline = ctx.processingTime + 60_000
      ctx.state.set({ last: ctx.timestamp, deadline })
      ctx.timers.processingTime(deadline)
    },
    onTimer(timer, ctx) {
      const s = ctx.state.get()
      // A later record moved the deadline: this timer is stale.
      if (s === undefined || s.deadline !== timer.time) return
      ctx.emit({ silent: ctx.key, since: s.last }, { key: `silent-${ctx.key}`, timestamp: timer.time })
      ctx.state.delete()
    },
  }
  const p = pipeline('pt-proc')
  p.from(src).process(silence).to(out)
  const d = new TestDriver(p, { startTime: 1_000_000 })
  d.pipe(src, { device: 'a', at: 10 }) // now 1 000 000: a's deadline 1 060 000
  d.pipe(src, { device: 'b', at: 20 }) // b's deadline 1 060 000
  d.advanceTime(30_000)
  d.pipe(src, { device: 'b', at: 30 }) // now 1 030 000: b's deadline moves to 1 090 000
  d.advanceTime(29_999) // now 1 059 999: nothing due
  assert.deepEqual(d.values(out), [])
  d.advanceTime(1) // now 1 060 000: a's timer fires; b's first timer fires but is stale
  assert.deepEqual(
    d.output(out).map((r) => [r.key, r.value, r.timestamp]),
    [['silent-a', { silent: 'a', since: 10 }, 1_060_000]],
  )
  d.advanceTime(30_000) // now 1 090 000: b's second timer
  assert.deepEqual(d.values(out), [
    { silent: 'a', since: 10 },
    { silent: 'b', since: 30 },
  ])
  assert.equal(d.state('silence').size, 0)
})

test('TTL drops a key ttl ms after its last update (processing time)', () => {
  const src = pings('pt-ttl-in')
  const out = topic<{ device: string; seen: number }>('pt-ttl-out')
  const p = pipeline('pt-ttl')
  p.from(src)
    .process<{ device: string; seen: number }, number>({
      name: 'seen',
      ttl: 1000,
      process(_ping, ctx) {
        const seen = (ctx.state.get() ?? 0) + 1
        ctx.state.set(seen)
        ctx.emit({ device: ctx.key, seen })
      },
    })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, { device: 'a', at: 1 }) // now 0: a expires at 1000
  d.advanceTime(500)
  d.pipe(src, { device: 'b', at: 2 }) // now 500: b expires at 1500
  d.pipe(src, { device: 'a', at: 3 }) // now 500: a updated, expires at 1500
  d.advanceTime(499) // now 999
  assert.deepEqual([...d.state('seen')].sort(), [
    ['a', 2],
    ['b', 1],
  ])
  d.advanceTime(1) // now 1000: neither expires (both last updated at 500)
  assert.equal(d.state('seen').size, 2)
  d.advanceTime(500) // now 1500: both expire
  assert.equal(d.state('seen').size, 0)
  d.pipe(src, { device: 'a', at: 4 }) // a starts again from nothing
  assert.deepEqual(
    d.values(out).map((v) => [v.device, v.seen]),
    [
      ['a', 1],
      ['b', 1],
      ['a', 2],
      ['a', 1],
    ],
  )
})

test('KeyedStream.aggregate: a running aggregate per key, emitted on every update', () => {
  interface Spend {
    card: string
    amount: number
  }
  const spends = topic<Spend>('pt-running-in', { key: (s) => s.card })
  const out = topic<Keyed<number>>('pt-running-out')
  const p = pipeline('pt-running')
  p.from(spends)
    .keyed()
    .aggregate(
      sum((s: Spend) => s.amount),
      { name: 'total-spend' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(spends, { card: 'a', amount: 1 }, { timestamp: 10 })
  d.pipe(spends, { card: 'b', amount: 10 }, { timestamp: 20 })
  d.pipe(spends, { card: 'a', amount: 2 }, { timestamp: 30 })
  d.pipe(spends, { card: 'a', amount: 4 }, { timestamp: 40 })
  // a: 1, 1 + 2 = 3, 3 + 4 = 7; b: 10. Each update keeps the input's timestamp.
  assert.deepEqual(
    d.output(out).map((r) => [r.key, r.value, r.timestamp]),
    [
      ['a', { key: 'a', value: 1 }, 10],
      ['b', { key: 'b', value: 10 }, 20],
      ['a', { key: 'a', value: 3 }, 30],
      ['a', { key: 'a', value: 7 }, 40],
    ],
  )
  assert.deepEqual([...d.state('total-spend')].sort(), [
    ['a', 7],
    ['b', 10],
  ])
})

test('a running aggregate after keyBy: result() of the accumulator, per new key', () => {
  interface Spend {
    card: string
    merchant: string
    amount: number
  }
  const spends = topic<Spend>('pt-running-rekey-in', { key: (s) => s.card })
  const out = topic<Keyed<string>>('pt-running-rekey-out')
  const cards: Aggregator<Spend, string[], string> = {
    init: () => [],
    add: (acc, s) => (acc.includes(s.card) ? acc : [...acc, s.card]),
    result: (acc) => acc.join('+'),
  }
  const p = pipeline('pt-running-rekey')
  p.from(spends)
    .keyBy((s) => s.merchant)
    .aggregate(cards, { name: 'cards-per-merchant' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(spends, { card: 'c1', merchant: 'm', amount: 1 })
  d.pipe(spends, { card: 'c2', merchant: 'm', amount: 1 })
  d.pipe(spends, { card: 'c1', merchant: 'm', amount: 1 })
  // m sees c1, then c1+c2, then c1 again (already counted): c1+c2.
  assert.deepEqual(d.values(out), [
    { key: 'm', value: 'c1' },
    { key: 'm', value: 'c1+c2' },
    { key: 'm', value: 'c1+c2' },
  ])
  assert.deepEqual(d.topology.repartitionTopics, [
    { topic: 'pt-running-rekey-cards-per-merchant-by-repartition', from: 0 },
  ])
})
