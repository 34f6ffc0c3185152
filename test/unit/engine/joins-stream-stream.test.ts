/**
 * Stream–stream joins through the TestDriver (src/runtime/stream-join-operator.ts).
 *
 * The rules under test: a left record at l and a right record at r with the same key pair when
 * l − before ≤ r ≤ l + after (`within: d` = both d); each arrival pairs at once with what the
 * other side has waiting; a pair carries max(l, r). A record behind W − lateness is late and
 * dropped. Left/outer joins emit a record that never paired once W − lateness has passed its
 * window (l + after for left records, r + before for right ones). Expectations by hand below.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pipeline, type StreamJoinOptions, topic } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Click {
  user: string
  id: string
  at: number
}
interface View {
  user: string
  page: string
  at: number
}

type Kind = 'inner' | 'left' | 'outer'

function setup(name: string, kind: Kind, options: Omit<StreamJoinOptions, 'name'>, maxOutOfOrder = 10_000) {
  const clicks = topic<Click>(`${name}-clicks`, { key: (c) => c.user, timestamp: (c) => c.at })
  const views = topic<View>(`${name}-views`, { key: (v) => v.user, timestamp: (v) => v.at })
  const out = topic<string>(`${name}-out`)
  const p = pipeline(name)
  const watermark = { maxOutOfOrder, idleAfter: '1h' as const }
  const left = p.from(clicks, { watermark })
  const right = p.from(views, { watermark })
  const joined =
    kind === 'inner'
      ? left.join(right, (c, v) => `${c.id}+${v.page}`, { name: 'click-view', ...options })
      : kind === 'left'
        ? left.leftJoin(right, (c, v) => `${c.id}+${v?.page ?? '∅'}`, { name: 'click-view', ...options })
        : left.outerJoin(right, (c, v) => `${c?.id ?? '∅'}+${v?.page ?? '∅'}`, {
            name: 'click-view',
            ...options,
          })
  joined.to(out)
  const d = new TestDriver(p)
  const click = (user: string, id: string, at: number) => d.pipe(clicks, { user, id, at })
  const view = (user: string, page: string, at: number) => d.pipe(views, { user, page, at })
  const results = () =>
    d
      .output(out)
      .map((r) => `${r.value}@${r.timestamp}`)
      .sort()
  return { d, click, view, results }
}

test('inner join within 5 s: every pair of the same key close enough, whichever side comes first', () => {
  const { click, view, results } = setup('ssj-inner', 'inner', { within: '5s' })
  view('u', 'v1', 1000)
  click('u', 'c1', 3000) // v1: 2 s apart → c1+v1 @3000
  click('u', 'c2', 7000) // v1: 6 s apart → no pair
  view('u', 'v2', 4000) // c1: 1 s → c1+v2 @4000; c2: 3 s → c2+v2 @7000
  click('u', 'c3', 500) // out of order: v1 0.5 s → c3+v1 @1000; v2 3.5 s → c3+v2 @4000
  view('x', 'v9', 3000) // another key: pairs with nothing
  assert.deepEqual(results(), ['c1+v1@3000', 'c1+v2@4000', 'c2+v2@7000', 'c3+v1@1000', 'c3+v2@4000'])
})

test('asymmetric bounds: a view from 0 to 5 s after the click (Flink interval join)', () => {
  const { click, view, results } = setup('ssj-interval', 'inner', { before: 0, after: '5s' })
  click('u', 'c1', 10_000)
  view('u', 'early', 9_000) // before the click: no
  view('u', 'same', 10_000) // at the click: yes
  view('u', 'late', 15_000) // 5 s after: yes (bounds included)
  view('u', 'too-late', 15_001) // no
  assert.deepEqual(results(), ['c1+late@15000', 'c1+same@10000'])
})

test('left join: a click without a view is emitted once its window has closed', () => {
  const { d, click, view, results } = setup('ssj-left', 'left', { within: '5s' })
  click('u', 'lonely', 1000)
  click('u', 'paired', 2000)
  view('u', 'v', 4000) // pairs lonely (3 s) and paired (2 s)
  click('u', 'alone', 20_000) // W = 20,000 − 10,000 = 10,000
  // lonely and paired paired; alone's window (…25,000) is still open.
  assert.deepEqual(results(), ['lonely+v@4000', 'paired+v@4000'])
  d.advanceWatermark(25_001) // W > 20,000 + 5,000: alone can no longer pair
  assert.deepEqual(results(), ['alone+∅@20000', 'lonely+v@4000', 'paired+v@4000'])
  assert.equal(d.state('click-view').size, 0, 'nothing waits once every window has closed')
})

test('outer join: unpaired records of both sides, each once, after their windows close', () => {
  const { d, click, view, results } = setup('ssj-outer', 'outer', { within: '1s' })
  click('u', 'c1', 1000)
  view('u', 'v1', 1500) // pairs c1
  view('u', 'v2', 5000) // nothing near
  click('u', 'c2', 9000) // nothing near
  d.advanceWatermark(20_000)
  assert.deepEqual(results(), ['c1+v1@1500', 'c2+∅@9000', '∅+v2@5000'])
  d.advanceWatermark(30_000)
  assert.equal(results().length, 3, 'emitted once')
})

test('late records (behind W − lateness) are dropped; allowedLateness lets them pair', () => {
  for (const lateness of [0, 5_000]) {
    const { d, click, view, results } = setup(
      `ssj-late-${lateness}`,
      'left',
      { within: '1s', allowedLateness: lateness },
      0,
    )
    click('u', 'c0', 10_000)
    view('u', 'v', 10_000) // both inputs at 10,000: W = 10,000; c0+v pair
    click('u', 'c', 7_000) // behind W: late unless lateness ≥ 3 s (then unpaired: v is 3 s away)
    d.advanceWatermark(100_000)
    assert.deepEqual(
      results(),
      lateness === 0 ? ['c0+v@10000'] : ['c+∅@7000', 'c0+v@10000'],
      `lateness ${lateness}`,
    )
    assert.equal(d.lateRecords(), lateness === 0 ? 1 : 0, 'a dropped record counts as late')
  }
})

test('state stays bounded: each record leaves once its window has passed', () => {
  const { d, click, view, results } = setup('ssj-bounded', 'inner', { within: '1s' }, 0)
  for (let i = 0; i < 1_000; i++) {
    click('u', `c${i}`, i * 10_000)
    view('u', `v${i}`, i * 10_000 + 500)
  }
  assert.equal(results().length, 1_000)
  // W = 9,990,500: only the last click and view can still pair with anything.
  // Runs of the records that waited at a commit (`r\0<run>` → records), and the watermark.
  const state = d.state('click-view')
  const runs = [...state].filter(([k]) => k.startsWith('r\0'))
  const stored = runs.reduce((n, [, records]) => n + (records as unknown[]).length, 0)
  assert.ok(stored <= 2, `at most the last two records are stored (${stored} in ${runs.length} runs)`)
  assert.ok(state.size <= stored + 1, `no entries but runs and the watermark (${[...state.keys()]})`)
})

test('describe() shows both inputs entering the join', () => {
  const { d } = setup('ssj-describe', 'left', { within: '5s' })
  const text = d.describe()
  assert.match(text, /click-view\.left ⇒\n\s+→ left join click-view \[within 5000ms, lateness 0ms\]/)
  assert.match(text, /click-view\.right ⇒/)
})

test('a stream–stream join needs bounds', () => {
  const p = pipeline('ssj-nobounds')
  const s = p.from(topic<Click>('ssj-nobounds-in'))
  assert.throws(() => s.join(s, (a, b) => [a, b], { name: 'self' }), /within: '5m' \} or \{ before, after \}/)
})
