/**
 * Session windows through the TestDriver. A session is `[first event, last event + gap)`;
 * records at most `gap` apart belong to one session ("a gap of inactivity longer than `gap`
 * closes a session"), so a record exactly `gap` after the last one still joins it. A record
 * that bridges two sessions merges them with the aggregator's merge(). Every expected array
 * is computed by hand in the comments.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Aggregator, count, pipeline, session, sum, topic, type Windowed } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Visit {
  user: string
  at: number
  v?: number
}

function visits(name: string) {
  return topic<Visit>(name, { key: (x) => x.user, timestamp: (x) => x.at })
}

const visit = (user: string, at: number, v = 1): Visit => ({ user, at, v })

test('gap boundary: records exactly `gap` apart share a session; `gap` + 1 apart do not', () => {
  const src = visits('ss-gap-in')
  const out = topic<Windowed<number>>('ss-gap-out')
  const p = pipeline('ss-gap')
  p.from(src)
    .keyed()
    .window(session({ gap: 1000 }))
    .aggregate(count(), { name: 'sessions' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, visit('a', 0))
  d.pipe(src, visit('b', 0))
  d.pipe(src, visit('a', 1000)) // 1000 − 0 = gap: a's session grows to [0, 2000)
  d.pipe(src, visit('b', 1001)) // 1001 − 0 > gap: b gets a second session [1001, 2001)
  d.advanceWatermark(10_000)
  // Closed in end order: b [0, 1000) first, then a [0, 2000), then b [1001, 2001).
  assert.deepEqual(d.values(out), [
    { key: 'b', start: 0, end: 1000, value: 1 },
    { key: 'a', start: 0, end: 2000, value: 2 },
    { key: 'b', start: 1001, end: 2001, value: 1 },
  ])
})

test('a session is not closed while an on-time record exactly `gap` later may still join it', () => {
  // Regression: the session [0, 1000) closed as soon as W = 1000, so a's on-time record at
  // 1000 (not behind the watermark) opened a second session instead of extending the first:
  // the result depended on whether another key had moved the watermark in between.
  const src = visits('ss-edge-in')
  const out = topic<Windowed<number>>('ss-edge-out')
  const p = pipeline('ss-edge')
  p.from(src)
    .keyed()
    .window(session({ gap: 1000 }))
    .aggregate(count(), { name: 'sessions' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, visit('a', 0))
  d.pipe(src, visit('b', 1000)) // W = 1000: a's session [0, 1000) may still get a record at 1000
  assert.deepEqual(d.values(out), [])
  d.pipe(src, visit('a', 1000)) // on time (1000 ≥ W) and exactly gap after 0: a → [0, 2000)
  assert.equal(d.lateRecords(), 0)
  d.advanceWatermark(2000) // a record at 2000 could still join both sessions: nothing closes
  assert.deepEqual(d.values(out), [])
  d.advanceWatermark(2001) // both sessions end at 2000 and close now, in key order
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 2000, value: 2 },
    { key: 'b', start: 1000, end: 2000, value: 1 },
  ])
})

test('a record bridging two sessions merges them; the value is the merged aggregate', () => {
  const src = visits('ss-merge-in')
  const updates = topic<Windowed<number>>('ss-merge-updates')
  const finals = topic<Windowed<number>>('ss-merge-finals')
  const p = pipeline('ss-merge')
  const windowed = (emit: 'update' | 'final') =>
    p
      .from(src, { watermark: { maxOutOfOrder: 1000 } })
      .keyed()
      .window(session({ gap: 1000 }), { emit })
  windowed('update')
    .aggregate(
      sum((x: Visit) => x.v ?? 0),
      { name: 'sum-updates' },
    )
    .to(updates)
  windowed('final')
    .aggregate(
      sum((x: Visit) => x.v ?? 0),
      { name: 'sum-finals' },
    )
    .to(finals)
  const d = new TestDriver(p)
  d.pipe(src, visit('a', 0, 1)) // session [0, 1000) = 1
  d.pipe(src, visit('a', 1800, 10)) // 1800 − 0 > gap: session [1800, 2800) = 10; W = 800
  // Two sessions are open (keys `a\0<start>`).
  assert.deepEqual([...d.state('sum-finals').keys()], ['a\u00000', 'a\u00001800'])
  d.pipe(src, visit('a', 900, 100)) // 900 ≤ 0 + gap and 1800 ≤ 900 + gap: bridges both
  // One session [0, 2800) remains, holding 1 + 10 + 100 = 111.
  assert.deepEqual([...d.state('sum-finals')], [['a\u00000', { end: 2800, acc: 111 }]])
  d.advanceWatermark(5000)
  // update mode: one result per change, the last one merged.
  assert.deepEqual(d.values(updates), [
    { key: 'a', start: 0, end: 1000, value: 1 },
    { key: 'a', start: 1800, end: 2800, value: 10 },
    { key: 'a', start: 0, end: 2800, value: 111 },
  ])
  // final mode: only the merged session.
  assert.deepEqual(d.values(finals), [{ key: 'a', start: 0, end: 2800, value: 111 }])
})

test('merge() folds the merged sessions oldest first, the bridging record in its time slot', () => {
  // Pages visited in a session, as a list: order-sensitive, so the merge order shows.
  const pages: Aggregator<Visit & { page: string }, string[], string> = {
    init: () => [],
    add: (acc, x) => [...acc, x.page],
    merge: (a, b) => [...a, ...b],
    result: (acc) => acc.join(','),
  }
  const src = topic<Visit & { page: string }>('ss-custom-in', {
    key: (x) => x.user,
    timestamp: (x) => x.at,
  })
  const out = topic<Windowed<string>>('ss-custom-out')
  const p = pipeline('ss-custom')
  p.from(src, { watermark: { maxOutOfOrder: 5000 } })
    .keyed()
    .window(session({ gap: 100 }))
    .aggregate(pages, { name: 'pages' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, { user: 'u', at: 150, page: 'cart' }) // [150, 250)
  d.pipe(src, { user: 'u', at: 0, page: 'home' }) // [0, 100): 150 > 0 + gap, separate
  d.pipe(src, { user: 'u', at: 75, page: 'shop' })
  // 75 touches [0, 100) (75 ≤ 100) and [150, 250) (150 ≤ 75 + 100). Folded by start time:
  // merge(merge(['home'], ['shop']), ['cart']) = home,shop,cart — not the order the two
  // sessions were created in (cart first), which an index rebuilt after a restart would not keep.
  d.advanceWatermark(10_000)
  assert.deepEqual(d.values(out), [{ key: 'u', start: 0, end: 250, value: 'home,shop,cart' }])
})

test('late sessions: a record behind the watermark joins an open session, or else is late', () => {
  const src = visits('ss-late-in')
  const out = topic<Windowed<number>>('ss-late-out')
  const late = topic('ss-late-late') // read back as JSON
  const p = pipeline('ss-late')
  p.from(src)
    .keyed()
    .window(session({ gap: 1000 }), { late })
    .aggregate(count(), { name: 'sessions' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, visit('a', 0)) // a: [0, 1000)
  d.pipe(src, visit('b', 5000)) // W = 5000 closes a's [0, 1000)
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1000, value: 1 }])
  d.pipe(src, visit('a', 100)) // its session [100, 1100) would already be closed: late
  d.pipe(src, visit('a', 4500)) // [4500, 5500) is open: a new session
  d.pipe(src, visit('a', 3900)) // behind W, but 4500 ≤ 3900 + gap: joins → [3900, 5500)
  d.pipe(src, visit('a', 2000)) // [2000, 3000) touches no open session (3900 > 3000): late
  assert.equal(d.lateRecords(), 2)
  assert.deepEqual(
    (d.values(late) as Visit[]).map((x) => x.at),
    [100, 2000],
  )
  d.advanceWatermark(10_000)
  assert.deepEqual(d.values(out), [
    { key: 'a', start: 0, end: 1000, value: 1 },
    { key: 'a', start: 3900, end: 5500, value: 2 },
    { key: 'b', start: 5000, end: 6000, value: 1 },
  ])
})

test('allowedLateness keeps a session open past its end', () => {
  const src = visits('ss-lateness-in')
  const out = topic<Windowed<number>>('ss-lateness-out')
  const p = pipeline('ss-lateness')
  p.from(src)
    .keyed()
    .window(session({ gap: 1000 }), { allowedLateness: 1000 })
    .aggregate(count(), { name: 'sessions' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(src, visit('a', 0)) // a: [0, 1000)
  d.pipe(src, visit('b', 1500)) // W = 1500: a's session ended, but lateness keeps it
  d.pipe(src, visit('a', 600)) // late by 900, joins: a → [0, 1600) with 2
  d.pipe(src, visit('b', 2600)) // b → [1500, 3600); W = 2600: 1600 + 1000 is not passed yet
  assert.deepEqual(d.values(out), [])
  d.pipe(src, visit('b', 2700)) // W = 2700 > 1600 + 1000: a's session closes
  assert.deepEqual(d.values(out), [{ key: 'a', start: 0, end: 1600, value: 2 }])
  d.pipe(src, visit('a', 500)) // [500, 1500) is past 1500 + 1000 ≤ 2700: late, dropped
  assert.equal(d.lateRecords(), 1)
})

test('session windows need an aggregator with merge()', () => {
  const src = visits('ss-nomerge-in')
  const p = pipeline('ss-nomerge')
  const noMerge: Aggregator<Visit, number> = { init: () => 0, add: (n) => n + 1 }
  assert.throws(
    () =>
      p
        .from(src)
        .keyed()
        .window(session({ gap: 10 }))
        .aggregate(noMerge, { name: 'visits' }),
    {
      name: 'TypeError',
      message: 'aggregate "visits": session windows merge, so the aggregator needs merge()',
    },
  )
})

test('sessions of one key coming from two merged topics merge with each other', () => {
  const web = visits('ss-two-web')
  const app = visits('ss-two-app')
  const out = topic<Windowed<number>>('ss-two-out')
  const p = pipeline('ss-two')
  p.from(web)
    .merge(p.from(app))
    .keyed()
    .window(session({ gap: 1000 }))
    .aggregate(count(), { name: 'sessions' })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(web, visit('k', 0))
  d.pipe(app, visit('k', 500)) // 500 ≤ 0 + gap: same session [0, 1500)
  d.advanceWatermark(10_000)
  assert.deepEqual(d.values(out), [{ key: 'k', start: 0, end: 1500, value: 2 }])
})
