/**
 * Event patterns through the TestDriver (src/runtime/pattern-operator.ts): the three
 * examples with matches, non-matches and the `within` boundary, then contiguity, optional
 * stages, out-of-order input and state. Events are matched in event-time order once the
 * watermark reaches them (maxOutOfOrder 0 here unless said: each event is fed as it comes).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Match, pattern, pipeline, topic } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Txn {
  card: string
  status: 'declined' | 'approved' | 'pending'
  at: number
}
const MIN = 60_000

function declinedThenApproved(name: string, skip?: 'none') {
  const txns = topic<Txn>(`${name}-txns`, { key: (t) => t.card, timestamp: (t) => t.at })
  const out = topic<Match<Txn, 'declined' | 'approved'>>(`${name}-out`)
  const p = pipeline(name)
  const rule = pattern<Txn>()
    .begin('declined', (t) => t.status === 'declined')
    .times(3)
    .followedBy('approved', (t) => t.status === 'approved')
    .within('10m')
  p.from(txns, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    .match(rule, { name: 'declined-approved', ...(skip ? { skip } : {}) })
    .to(out)
  const d = new TestDriver(p)
  const txn = (card: string, status: Txn['status'], at: number) => d.pipe(txns, { card, status, at })
  const matches = () =>
    d
      .values(out)
      .map(
        (m) =>
          `${m.key}:${m.events.declined.map((t) => t.at / MIN).join(',')}→${m.events.approved.map((t) => t.at / MIN)}`,
      )
  return { d, txn, matches, out }
}

test('three declined payments then an approved one on the same card within 10 minutes', () => {
  const { d, txn, matches, out } = declinedThenApproved('cep-fraud')
  txn('c1', 'declined', 0)
  txn('c1', 'pending', 0.5 * MIN) // other events in between are fine (followedBy)
  txn('c1', 'declined', 1 * MIN)
  txn('c2', 'declined', 1 * MIN) // another card: its own sequence
  txn('c1', 'declined', 2 * MIN)
  assert.deepEqual(matches(), [])
  txn('c1', 'approved', 5 * MIN)
  assert.deepEqual(matches(), ['c1:0,1,2→5'])
  const [m] = d.values(out)
  assert.deepEqual([m!.start, m!.end], [0, 5 * MIN])
  assert.deepEqual(
    d.output(out).map((r) => r.timestamp),
    [5 * MIN],
    'a match carries its last event time',
  )
})

test('non-matches: two declines, approval first, another card', () => {
  const { txn, matches } = declinedThenApproved('cep-fraud-no')
  txn('c1', 'approved', 0)
  txn('c1', 'declined', 1 * MIN)
  txn('c1', 'declined', 2 * MIN)
  txn('c1', 'approved', 3 * MIN) // only two declines before it
  txn('c2', 'declined', 4 * MIN)
  txn('c3', 'declined', 4 * MIN)
  txn('c4', 'declined', 4 * MIN)
  txn('c5', 'approved', 5 * MIN) // three declines, but on three other cards
  assert.deepEqual(matches(), [])
})

test('within is inclusive: approved exactly 10 minutes after the first decline matches, 1 ms later not', () => {
  for (const [late, expected] of [
    [0, ['c1:0,1,2→10']],
    [1, []],
  ] as const) {
    const { txn, matches } = declinedThenApproved(`cep-within-${late}`)
    txn('c1', 'declined', 0)
    txn('c1', 'declined', 1 * MIN)
    txn('c1', 'declined', 2 * MIN)
    txn('c1', 'approved', 10 * MIN + late)
    assert.deepEqual(matches(), expected)
  }
})

test('one sequence, one match: four declines then an approval (skip: none gives both overlaps)', () => {
  for (const skip of [undefined, 'none'] as const) {
    const { txn, matches } = declinedThenApproved(`cep-skip-${skip ?? 'default'}`, skip)
    for (const at of [0, 1, 2, 3]) txn('c1', 'declined', at * MIN)
    txn('c1', 'approved', 4 * MIN)
    assert.deepEqual(matches(), skip === 'none' ? ['c1:0,1,2→4', 'c1:1,2,3→4'] : ['c1:0,1,2→4'], String(skip))
  }
})

interface Reading {
  sensor: string
  celsius: number
  at: number
}

function hot(name: string, maxOutOfOrder = 0) {
  const readings = topic<Reading>(`${name}-in`, { key: (r) => r.sensor, timestamp: (r) => r.at })
  const out = topic<Match<Reading, 'hot'>>(`${name}-out`)
  const p = pipeline(name)
  p.from(readings, { watermark: { maxOutOfOrder, idleAfter: '1h' } })
    .match(
      pattern<Reading>()
        .begin('hot', (r) => r.celsius > 30)
        .times(5)
        .consecutive(),
      { name: 'five-hot' },
    )
    .to(out)
  const d = new TestDriver(p)
  const read = (celsius: number, at: number) => d.pipe(readings, { sensor: 's1', celsius, at })
  const matches = () => d.values(out).map((m) => m.events.hot.map((r) => r.celsius).join(','))
  return { d, read, matches }
}

test('temperature above the threshold for 5 consecutive readings', () => {
  const { read, matches } = hot('cep-hot')
  for (const [i, c] of [31, 32, 20, 33, 34, 35, 36].entries()) read(c, i * 1000)
  // 31, 32 are cut off by 20; 33…36 are only four.
  assert.deepEqual(matches(), [])
  read(37, 7000)
  assert.deepEqual(matches(), ['33,34,35,36,37'])
  // The next match needs five new readings (the ones matched are consumed).
  for (const [i, c] of [38, 39, 40, 41].entries()) read(c, 8000 + i * 1000)
  assert.deepEqual(matches(), ['33,34,35,36,37'])
  read(42, 12_000)
  assert.deepEqual(matches(), ['33,34,35,36,37', '38,39,40,41,42'])
})

test('readings arriving out of order are matched in event-time order', () => {
  const { d, read, matches } = hot('cep-hot-ooo', 10_000)
  // Event times 1…5 s, all hot, arriving shuffled; a cold reading at 3.5 s arrives last.
  for (const [c, at] of [
    [33, 3000],
    [31, 1000],
    [35, 5000],
    [32, 2000],
    [34, 4000],
    [20, 3500],
  ] as const)
    read(c, at)
  d.advanceWatermark(60_000)
  // In event time the cold reading sits between 33 and 34: no five in a row.
  assert.deepEqual(matches(), [])
  // Everything was fed; what remains are the partial matches 34, 35 and 35 (no within: they
  // may still grow).
  const left = [...d.state('five-hot').values()] as Array<{ buf: unknown[]; runs: Array<{ ev: unknown[] }> }>
  assert.deepEqual(
    left.map((k) => [k.buf.length, k.runs.map((r) => r.ev.length)]),
    [[0, [2, 1]]],
  )
})

interface Click {
  user: string
  kind: 'add' | 'checkout' | 'view'
  at: number
}

function abandoned(name: string) {
  const clicks = topic<Click>(`${name}-in`, { key: (c) => c.user, timestamp: (c) => c.at })
  const out = topic<Match<Click, 'add'>>(`${name}-out`)
  const p = pipeline(name)
  p.from(clicks, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    .match(
      pattern<Click>()
        .begin('add', (c) => c.kind === 'add')
        .notFollowedBy('checkout', (c) => c.kind === 'checkout')
        .within('30m'),
      { name: 'abandoned-cart' },
    )
    .to(out)
  const d = new TestDriver(p)
  const click = (user: string, kind: Click['kind'], at: number) => d.pipe(clicks, { user, kind, at })
  const matches = () => d.values(out).map((m) => `${m.key}@${m.end / MIN}`)
  return { d, click, matches }
}

test('cart add without checkout within 30 minutes: emitted when the 30 minutes have passed', () => {
  const { d, click, matches } = abandoned('cep-cart')
  click('u1', 'add', 0)
  click('u2', 'add', 0)
  click('u2', 'checkout', 10 * MIN) // u2 checks out: no match
  click('u1', 'view', 20 * MIN) // other events do not matter
  d.advanceWatermark(30 * MIN)
  assert.deepEqual(matches(), [], 'not before the 30 minutes have passed')
  d.advanceWatermark(30 * MIN + 1)
  assert.deepEqual(matches(), ['u1@30'], 'emitted at add + 30 min')
})

test('a checkout exactly at 30 minutes still counts; one after does not', () => {
  const { click, matches } = abandoned('cep-cart-edge')
  // (One partition: its watermark is the newest time of any user, so both adds come first.)
  click('u1', 'add', 0)
  click('u2', 'add', 0)
  click('u1', 'checkout', 30 * MIN) // within: no match
  click('u2', 'checkout', 31 * MIN) // too late to save the cart
  assert.deepEqual(matches(), ['u2@30'])
})

test('next() needs the very next event; optional() stages may be absent', () => {
  interface E {
    k: string
    t: string
    at: number
  }
  const src = topic<E>('cep-next-in', { key: (e) => e.k, timestamp: (e) => e.at })
  const strict = topic<Match<E, 'a' | 'b'>>('cep-next-strict')
  const opt = topic<Match<E, 'a' | 'b' | 'c'>>('cep-next-opt')
  const p = pipeline('cep-next')
  const s = p.from(src, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
  s.match(
    pattern<E>()
      .begin('a', (e) => e.t === 'a')
      .next('b', (e) => e.t === 'b'),
    { name: 'a-next-b' },
  ).to(strict)
  s.match(
    pattern<E>()
      .begin('a', (e) => e.t === 'a')
      .followedBy('b', (e) => e.t === 'b')
      .optional()
      .followedBy('c', (e) => e.t === 'c'),
    { name: 'a-b?-c' },
  ).to(opt)
  const d = new TestDriver(p)
  let at = 0
  const send = (k: string, ...types: string[]) => {
    for (const t of types) d.pipe(src, { k, t, at: at++ })
  }
  send('k1', 'a', 'x', 'b') // a … b: not next
  send('k2', 'a', 'b') // a, b: next
  send('k3', 'a', 'c') // b absent: a, c
  send('k4', 'a', 'x', 'b', 'x', 'c') // b present
  assert.deepEqual(
    d.values(strict).map((m) => m.key),
    ['k2'],
  )
  assert.deepEqual(
    d.values(opt).map((m) => `${m.key}:${m.events.b.length}`),
    ['k3:0', 'k4:1'],
  )
})

test('pattern mistakes are reported when the pattern is built', () => {
  assert.throws(() => pattern<number>().followedBy('x', () => true), /applies to the stage before it/)
  assert.throws(
    () =>
      pipeline('cep-bad')
        .from(topic<number>('cep-bad-in'))
        .match(
          pattern<number>()
            .begin('a', () => true)
            .notFollowedBy('b', () => true),
          { name: 'm' },
        ),
    /needs within\(\)/,
  )
  assert.throws(
    () =>
      pattern<number>()
        .begin('a', () => true)
        .times(0),
    /whole number ≥ 1/,
  )
  assert.throws(
    () =>
      pattern<number>()
        .begin('a', () => true)
        .followedBy('a', () => true),
    /two stages are named "a"/,
  )
})

test('partial matches stay bounded under steady input: within drops old runs', () => {
  const { d, txn } = declinedThenApproved('cep-bounded')
  const sizes: number[] = []
  // 20,000 transactions on 10 cards, one every 6 s; a decline every 2nd, an approval every 7th.
  for (let i = 0; i < 20_000; i++) {
    txn(`c${i % 10}`, i % 7 === 0 ? 'approved' : i % 2 === 0 ? 'declined' : 'pending', i * 6_000)
    if (i % 1_000 === 999) {
      const runs = [...d.state('declined-approved').values()].reduce(
        (n: number, k) => n + (k as { runs: unknown[] }).runs.length,
        0,
      )
      sizes.push(runs)
    }
  }
  // A run lives at most 10 minutes: 100 transactions, 10 per card, about half of them declines.
  assert.ok(Math.max(...sizes) <= 60, `runs in state stay bounded: ${sizes.join(', ')}`)
  assert.ok(Math.max(...sizes.slice(10)) <= Math.max(...sizes.slice(0, 10)) + 5, 'and flat over time')
})

test('an event behind the watermark on arrival is dropped and counted as late', () => {
  const { d, txn, matches } = declinedThenApproved('cep-late')
  txn('c1', 'declined', 0)
  txn('c1', 'declined', 1 * MIN)
  txn('c2', 'approved', 5 * MIN) // moves the watermark to 5 min
  txn('c1', 'declined', 2 * MIN) // late: would have completed the three declines
  txn('c1', 'approved', 6 * MIN)
  assert.deepEqual(matches(), [])
  assert.equal(d.lateRecords(), 1)
})
