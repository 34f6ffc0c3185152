/**
 * Hopping windows on panes (runtime/paned-window-operator.ts) against the per-window operator
 * (window-operator.ts) they replace: the same results in the same order, the same late
 * records, the same queryable windows — on random out-of-order input with lateness, through
 * restarts from committed state, and with aggregators whose merge changes its argument or
 * hands it back.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Aggregator, avg, count, distinctCount, sum } from '../../../src/dsl/aggregations.ts'
import type { WindowAggregateNode } from '../../../src/dsl/nodes.ts'
import { hopping } from '../../../src/dsl/windows.ts'
import {
  holdsPanes,
  openWindowsOfPanes,
  PanedWindowOperator,
  panesFit,
} from '../../../src/runtime/paned-window-operator.ts'
import type { StreamRecord } from '../../../src/runtime/record.ts'
import { MemoryBackend } from '../../../src/runtime/state.ts'
import { FixedWindowOperator, type WindowOperator } from '../../../src/runtime/window-operator.ts'
import { WindowStore } from '../../../src/runtime/window-store.ts'

interface Event {
  key: string
  t: number
  v: number
}

/** A custom aggregator whose merge changes its first argument in place, or hands back the second. */
const spread: Aggregator<Event, { lo: number; hi: number; n: number }> = {
  init: () => ({ lo: Number.POSITIVE_INFINITY, hi: Number.NEGATIVE_INFINITY, n: 0 }),
  add: (a, e) => {
    a.lo = Math.min(a.lo, e.v)
    a.hi = Math.max(a.hi, e.v)
    a.n++
    return a
  },
  merge: (a, b) => {
    if (a.n === 0) return b
    a.lo = Math.min(a.lo, b.lo)
    a.hi = Math.max(a.hi, b.hi)
    a.n += b.n
    return a
  },
}

const aggregators: Record<string, Aggregator<Event, unknown, unknown>> = {
  count: count<Event>() as Aggregator<Event, unknown, unknown>,
  sum: sum<Event>((e) => e.v) as Aggregator<Event, unknown, unknown>,
  avg: avg<Event>((e) => e.v) as Aggregator<Event, unknown, unknown>,
  distinct: distinctCount<Event>((e) => e.v % 7) as Aggregator<Event, unknown, unknown>,
  spread: spread as Aggregator<Event, unknown, unknown>,
}

function node(agg: Aggregator<Event, unknown, unknown>, allowedLateness: number): WindowAggregateNode {
  return {
    kind: 'window-aggregate',
    window: hopping({ size: 1_000, advance: 250 }),
    aggregator: agg as Aggregator<unknown, unknown, unknown>,
    allowedLateness,
    late: undefined,
    emit: 'final',
  }
}

/** One operator over its own backend, committing (and optionally restarting) as told. */
class Harness {
  readonly backend = new MemoryBackend()
  readonly emitted: string[] = []
  readonly late: string[] = []
  readonly op: WindowAggregateNode
  readonly paned: boolean
  store!: WindowStore
  operator!: WindowOperator

  constructor(op: WindowAggregateNode, paned: boolean) {
    this.op = op
    this.paned = paned
    this.open()
  }

  open(): void {
    this.store = new WindowStore('w', 0, this.backend)
    const out = {
      emit: (r: StreamRecord) => this.emitted.push(JSON.stringify(r)),
      late: (r: StreamRecord) => this.late.push(JSON.stringify(r)),
    }
    this.operator = this.paned
      ? new PanedWindowOperator(this.op, this.store, out)
      : new FixedWindowOperator(this.op, this.store, out)
  }

  commit(): void {
    const writes = new Map<string, unknown>()
    this.store.takeWrites(writes)
    this.backend.write(writes)
  }
}

function randomRun(seed: number, aggName: string, restarts: boolean) {
  let s = seed
  const rand = (n: number) => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648
    return s % n
  }
  const op = node(aggregators[aggName]!, rand(2) === 0 ? 0 : 400)
  assert.ok(panesFit(op, new WindowStore('x', 0, new MemoryBackend())))
  const paned = new Harness(op, true)
  const windows = new Harness(op, false)
  let watermark = 0
  for (let i = 0; i < 3_000; i++) {
    // Event time runs forward 5 ms per event with up to 900 ms of disorder; some records are late.
    const e: Event = { key: `k${rand(5)}`, t: i * 5 - rand(900), v: rand(1_000) }
    const record = { key: e.key, value: e, timestamp: e.t }
    paned.operator.process(record)
    windows.operator.process(record)
    if (i % 17 === 0) {
      watermark = Math.max(watermark, i * 5 - 600)
      paned.operator.advance(watermark)
      windows.operator.advance(watermark)
    }
    if (i % 101 === 0) {
      paned.commit()
      windows.commit()
      // A restart from what was committed: the panes, and which windows were emitted.
      if (restarts && (i / 101) % 3 !== 1) {
        paned.open()
        windows.open()
        paned.operator.advance(watermark)
        windows.operator.advance(watermark)
      }
      // Queryable state: the same open windows, read from panes.
      const fromPanes = openWindowsOfPanes(op, paned.store)
      const fromWindows = new Map<string, Array<{ start: number; end: number; acc: unknown }>>()
      for (const [composite, v] of windows.store.entries()) {
        const sep = composite.lastIndexOf('\0')
        const key = composite.slice(0, sep)
        const list = fromWindows.get(key) ?? []
        list.push({ start: Number(composite.slice(sep + 1)), ...(v as { end: number; acc: unknown }) })
        fromWindows.set(key, list)
      }
      for (const list of fromWindows.values()) list.sort((a, b) => a.start - b.start)
      const result = (acc: unknown) => (op.aggregator.result ? op.aggregator.result(acc) : acc)
      const show = (m: Map<string, Array<{ start: number; end: number; acc: unknown }>>) =>
        JSON.stringify([...m].sort().map(([k, ws]) => [k, ws.map((w) => [w.start, w.end, result(w.acc)])]))
      assert.equal(show(fromPanes), show(fromWindows), `queryable windows at event ${i}`)
    }
  }
  paned.operator.advance(Number.POSITIVE_INFINITY)
  windows.operator.advance(Number.POSITIVE_INFINITY)
  return { paned, windows }
}

for (const aggName of Object.keys(aggregators)) {
  test(`panes give the per-window results, in order, and the same late records: ${aggName}`, () => {
    for (const seed of [1, 2, 3]) {
      const { paned, windows } = randomRun(seed, aggName, false)
      assert.ok(windows.emitted.length > 250, `${windows.emitted.length} results`)
      assert.deepEqual(paned.emitted, windows.emitted)
      assert.deepEqual(paned.late, windows.late)
      assert.equal(paned.operator.openWindows, 0, 'no pane left')
    }
  })
}

test('restarts from committed panes emit every window once, as without them', () => {
  for (const seed of [4, 5, 6, 7]) {
    const straight = randomRun(seed, 'avg', false).paned.emitted
    const { paned, windows } = randomRun(seed, 'avg', true)
    assert.deepEqual(paned.emitted, windows.emitted)
    assert.deepEqual(paned.emitted, straight)
  }
})

test('a record behind the last emitted window is late after a restart too, even with no watermark yet', () => {
  const op = node(aggregators.count!, 0)
  const h = new Harness(op, true)
  h.operator.process({ key: 'a', value: { key: 'a', t: 100, v: 1 }, timestamp: 100 })
  h.operator.advance(2_000) // windows up to [750, 1750) close
  assert.equal(h.emitted.length, 4)
  h.commit()
  h.open() // the new operator has no watermark: only the committed closedThrough tells
  h.operator.process({ key: 'a', value: { key: 'a', t: 300, v: 1 }, timestamp: 300 })
  assert.equal(h.late.length, 1)
  h.operator.advance(Number.POSITIVE_INFINITY)
  assert.equal(h.emitted.length, 4, 'nothing emitted twice')
})

test('state committed in the per-window layout keeps the per-window operator', () => {
  const op = node(aggregators.count!, 0)
  const legacy = new Harness(op, false)
  legacy.operator.process({ key: 'a', value: { key: 'a', t: 100, v: 1 }, timestamp: 100 })
  legacy.commit()
  assert.equal(panesFit(op, new WindowStore('w', 0, legacy.backend)), false)
  assert.equal(panesFit(op, new WindowStore('w', 0, new MemoryBackend())), true)
  assert.equal(panesFit({ ...op, emit: 'update' }, new WindowStore('w', 0, new MemoryBackend())), false)
  const noMerge = { ...op, aggregator: { init: () => 0, add: (n: number) => n + 1 } } as WindowAggregateNode
  assert.equal(panesFit(noMerge, new WindowStore('w', 0, new MemoryBackend())), false)
})

test('panes read by a step that can no longer use them: refused, with what to do', () => {
  const op = node(aggregators.count!, 0)
  const h = new Harness(op, true)
  h.operator.process({ key: 'a', value: { key: 'a', t: 100, v: 1 }, timestamp: 100 })
  h.commit() // panes, no window closed yet
  const fresh = () => new WindowStore('w', 0, h.backend)
  assert.equal(holdsPanes(op, fresh()), false, 'the same step reads them')
  assert.equal(holdsPanes({ ...op, emit: 'update' }, fresh()), true)
  h.operator.advance(2_000)
  h.commit() // and closedThrough
  assert.equal(holdsPanes({ ...op, emit: 'update' }, fresh()), true)
  const noMerge = { ...op, aggregator: { init: () => 0, add: (n: number) => n + 1 } } as WindowAggregateNode
  assert.equal(holdsPanes(noMerge, fresh()), true)
  assert.equal(holdsPanes(op, new WindowStore('w', 0, new MemoryBackend())), false)
})
