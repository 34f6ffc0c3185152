/**
 * Watermarks and idleness through the TestDriver (src/runtime/watermarks.ts): a channel's
 * watermark is its newest event time minus maxOutOfOrder; a task's watermark is the minimum
 * over its channels that are not idle (one per source partition, or one per upstream task for
 * a repartition topic); a channel with no records for `idleAfter` of processing time stops
 * holding the watermark back. Expected values are worked out by hand in the comments.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { count, pipeline, topic, tumbling, type Windowed } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Tap {
  device: string
  user: string
  at: number
}

function taps(name: string) {
  return topic<Tap>(name, { key: (t) => t.device, timestamp: (t) => t.at })
}

const tap = (device: string, user: string, at: number): Tap => ({ device, user, at })

test('a task watermark is the newest event time minus maxOutOfOrder, and never goes back', () => {
  const src = taps('wm-basic-in')
  const p = pipeline('wm-basic')
  p.from(src, { watermark: { maxOutOfOrder: '1s' } }).forEach(() => {})
  const d = new TestDriver(p)
  assert.equal(d.watermarks()['wm-basic/0/0'], Number.NEGATIVE_INFINITY)
  d.pipe(src, tap('d', 'u', 5000))
  assert.equal(d.watermarks()['wm-basic/0/0'], 4000) // 5000 − 1000
  d.pipe(src, tap('d', 'u', 4500)) // older: the watermark stays
  assert.equal(d.watermarks()['wm-basic/0/0'], 4000)
  d.pipe(src, tap('d', 'u', 7000))
  assert.equal(d.watermarks()['wm-basic/0/0'], 6000)
})

test('partitions: 2 through a repartition: the quiet partition holds the watermark until idleAfter', () => {
  const src = taps('wm-quiet-in')
  const out = topic<Windowed<number>>('wm-quiet-out')
  const p = pipeline('wm-quiet')
  p.from(src, { watermark: { idleAfter: '1s' } })
    .keyBy((t) => t.user)
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'per-user' })
    .to(out)
  const d = new TestDriver(p, { partitions: 2 })
  // Device keys: dev-a → partition 0, dev-b → partition 1 (murmur2, 2 partitions).
  d.pipe(src, tap('dev-b', 'u', 100), { key: 'dev-b' }) // partition 1: W1 = 100
  d.pipe(src, tap('dev-a', 'u', 200), { key: 'dev-a' }) // partition 0: W0 = 200
  d.pipe(src, tap('dev-a', 'u', 5000), { key: 'dev-a' }) // W0 = 5000
  assert.deepEqual(
    d.output(src).map((r) => [r.key, r.partition]),
    [
      ['dev-a', 0],
      ['dev-a', 0],
      ['dev-b', 1],
    ],
  )
  // Downstream tasks (subtopology 1) take the minimum over both upstream tasks: 100.
  assert.deepEqual(d.watermarks(), {
    'wm-quiet/0/0': 5000,
    'wm-quiet/0/1': 100,
    'wm-quiet/1/0': 100,
    'wm-quiet/1/1': 100,
  })
  assert.deepEqual(d.values(out), [])
  d.advanceTime(600) // now 600: nothing is idle yet
  d.pipe(src, tap('dev-a', 'u', 6000), { key: 'dev-a' }) // partition 0 active at 600: W0 = 6000
  assert.deepEqual(d.values(out), [])
  d.advanceTime(400)
  // now 1000: partition 1 has been quiet for 1000 ms = idleAfter; partition 0 only for 400.
  // Downstream W = 6000: [0, 1000) closes with u's 100 and 200; [5000, 6000) with 5000.
  assert.equal(d.watermarks()['wm-quiet/1/0'], 6000)
  assert.equal(d.watermarks()['wm-quiet/1/1'], 6000)
  assert.deepEqual(d.values(out), [
    { key: 'u', start: 0, end: 1000, value: 2 },
    { key: 'u', start: 5000, end: 6000, value: 1 },
  ])
})

test('two merged topics, one empty: the empty one holds the watermark until idleAfter, then releases it', () => {
  // Regression: when the empty input and the input with data became idle in the same tick,
  // every channel was idle and the watermark stayed at −∞ for good: no window ever closed.
  // When every channel is idle, the task watermark is now the largest channel watermark.
  const clicks = taps('wm-empty-clicks')
  const views = taps('wm-empty-views')
  const out = topic<Windowed<number>>('wm-empty-out')
  const p = pipeline('wm-empty')
  const opts = { watermark: { idleAfter: '1s' as const } }
  p.from(clicks, opts)
    .merge(p.from(views, opts))
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'per-device' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(clicks, tap('k', 'u', 100))
  d.pipe(clicks, tap('k', 'u', 1500)) // clicks W = 1500; views W = −∞ holds the task
  assert.equal(d.watermarks()['wm-empty/0/0'], Number.NEGATIVE_INFINITY)
  d.advanceTime(999) // now 999 < idleAfter: nothing changes
  assert.deepEqual(d.values(out), [])
  d.advanceTime(1) // now 1000: both inputs idle; the largest channel watermark is 1500
  assert.equal(d.watermarks()['wm-empty/0/0'], 1500)
  // [0, 1000) closes with the record at 100.
  assert.deepEqual(d.values(out), [{ key: 'k', start: 0, end: 1000, value: 1 }])
})

test('two merged topics, one empty: while the other keeps receiving, idleness releases it', () => {
  const clicks = taps('wm-active-clicks')
  const views = taps('wm-active-views')
  const out = topic<Windowed<number>>('wm-active-out')
  const p = pipeline('wm-active')
  const opts = { watermark: { idleAfter: '1s' as const } }
  p.from(clicks, opts)
    .merge(p.from(views, opts))
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'per-device' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(clicks, tap('k', 'u', 100))
  d.advanceTime(600)
  d.pipe(clicks, tap('k', 'u', 2500)) // clicks active at 600, W = 2500
  d.advanceTime(399) // now 999: views not idle yet
  assert.deepEqual(d.values(out), [])
  d.advanceTime(1) // now 1000: views idle, clicks still active (last record at 600) → W = 2500
  assert.equal(d.watermarks()['wm-active/0/0'], 2500)
  // [0, 1000) = 1 (100) closes; [2000, 3000) stays open.
  assert.deepEqual(d.values(out), [{ key: 'k', start: 0, end: 1000, value: 1 }])
  d.pipe(views, tap('k', 'u', 2600)) // views wakes up; its channel holds again at 2600 ≥ 2500
  d.pipe(clicks, tap('k', 'u', 4000)) // min(4000, 2600) = 2600 < 3000: [2000, 3000) open
  assert.equal(d.watermarks()['wm-active/0/0'], 2600)
  assert.equal(d.values(out).length, 1)
})

test('partitions: 2 through a repartition: a partition that never had a record is released by idleAfter', () => {
  const src = taps('wm-never-in')
  const out = topic<Windowed<number>>('wm-never-out')
  const p = pipeline('wm-never')
  p.from(src, { watermark: { idleAfter: '1s' } })
    .keyBy((t) => t.user)
    .window(tumbling({ size: 1000 }))
    .aggregate(count(), { name: 'per-user' })
    .to(out)
  const d = new TestDriver(p, { partitions: 2 })
  d.pipe(src, tap('dev-a', 'u', 100), { key: 'dev-a' }) // partition 0; partition 1 stays empty
  d.advanceTime(600)
  d.pipe(src, tap('dev-a', 'u', 2500), { key: 'dev-a' }) // partition 0 active at 600
  d.advanceTime(400) // now 1000: partition 1 idle, partition 0 active → downstream W = 2500
  assert.deepEqual(d.values(out), [{ key: 'u', start: 0, end: 1000, value: 1 }])
})

test("advance: 'processing-time' closes windows on a quiet stream as the clock moves", () => {
  const src = taps('wm-clock-in')
  const out = topic<Windowed<number>>('wm-clock-out')
  const p = pipeline('wm-clock')
  p.from(src, { watermark: { idleAfter: '1s', advance: 'processing-time' } })
    .keyed()
    .window(tumbling({ size: '1m' }))
    .aggregate(count(), { name: 'per-minute' })
    .to(out)
  const d = new TestDriver(p)
  // At now = 0 a record of event time 10 000 arrives: event time runs 10 000 ms ahead of the
  // clock. W = 10 000.
  d.pipe(src, tap('k', 'u', 10_000))
  d.advanceTime(999) // not idle yet: W stays 10 000
  assert.equal(d.watermarks()['wm-clock/0/0'], 10_000)
  d.advanceTime(1) // now 1000: idle; W = now + 10 000 = 11 000
  assert.equal(d.watermarks()['wm-clock/0/0'], 11_000)
  d.advanceTime(48_999) // now 49 999: W = 59 999 < 60 000
  assert.deepEqual(d.values(out), [])
  d.advanceTime(1) // now 50 000: W = 60 000 closes [0, 60 000)
  assert.deepEqual(d.values(out), [{ key: 'k', start: 0, end: 60_000, value: 1 }])
})

test('without advance, a quiet stream keeps its watermark however long the clock runs', () => {
  const src = taps('wm-still-in')
  const out = topic<Windowed<number>>('wm-still-out')
  const p = pipeline('wm-still')
  p.from(src, { watermark: { idleAfter: '1s' } })
    .keyed()
    .window(tumbling({ size: '1m' }))
    .aggregate(count(), { name: 'per-minute' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, tap('k', 'u', 10_000))
  d.advanceTime(3_600_000) // an hour of silence: W stays 10 000
  assert.equal(d.watermarks()['wm-still/0/0'], 10_000)
  assert.deepEqual(d.values(out), [])
})
