/**
 * Hopping (sliding) windows computed from panes, when their aggregation can merge and results
 * are emitted on close: what Flink calls slicing. A record falls in size/advance windows, but
 * in one pane — the `advance`-long slice of time all of them share there — so it updates one
 * accumulator instead of size/advance, and a commit writes one changed pane per key instead
 * of every window the record touched. When a window closes, its panes are merged, per key.
 *
 * The same semantics as FixedWindowOperator (window-operator.ts), which it replaces only
 * where it gives the same results: hopping windows with `emit: 'final'` and an aggregator with
 * `merge`. A record is late when its pane's last window (the one starting at the pane) has
 * closed; windows closed before it arrived do not see it, later ones do, as there. Floating-
 * point sums may differ in the last bits, as the values are added in another order.
 *
 * State, in the WindowStore: a pane is a window entry `[start, start + advance)`, and
 * `closedThrough` is the start of the last window closed, with records or not (one without
 * must not take a record that comes later). A pane leaves when the window
 * starting at it closes (the last window it is in). Keeping `closedThrough` in the same store
 * makes it commit, and restore (from LMDB or a changelog), with the panes: a window emitted
 * before a restart is not emitted again, even for records replayed behind it.
 */
import type { Aggregator } from '../dsl/aggregations.ts'
import type { WindowAggregateNode } from '../dsl/nodes.ts'
import { type HoppingWindows, mod } from '../dsl/windows.ts'
import type { StreamRecord } from './record.ts'
import { cloneState } from './state.ts'
import type { WindowOperator, WindowOutput } from './window-operator.ts'
import type { Window, WindowStore } from './window-store.ts'

type Merging = Aggregator<unknown, unknown, unknown> & {
  merge: NonNullable<Aggregator<unknown, unknown, unknown>['merge']>
}

/**
 * True when `op` can run on panes: hopping windows longer than their advance, results on
 * close, an aggregator that merges, and no windows of the per-window layout in `store` (state
 * committed before panes existed: that task keeps the per-window operator).
 */
export function panesFit(op: WindowAggregateNode, store: WindowStore): boolean {
  const w = op.window
  if (w.kind !== 'hopping' || w.size <= w.advance || op.emit !== 'final') return false
  if (op.aggregator.merge === undefined) return false
  return !store.loadedSpans.has(w.size)
}

/**
 * True when `store` holds panes (this operator's state) and `op` cannot run on them: the step
 * changed to `emit: 'update'` or to an aggregator without `merge`. Read as windows, each pane
 * would pass for a window `advance` long; the caller refuses to start instead.
 */
export function holdsPanes(op: WindowAggregateNode, store: WindowStore): boolean {
  const w = op.window
  if (w.kind !== 'hopping' || panesFit(op, store)) return false
  return store.closedThrough !== null || (w.size > w.advance && store.loadedSpans.has(w.advance))
}

export class PanedWindowOperator implements WindowOperator {
  readonly #store: WindowStore
  readonly #out: WindowOutput
  readonly #agg: Merging
  readonly #size: number
  readonly #advance: number
  readonly #lateness: number
  #watermark = Number.NEGATIVE_INFINITY
  lateRecords = 0

  constructor(op: WindowAggregateNode, store: WindowStore, out: WindowOutput) {
    const spec = op.window as HoppingWindows
    this.#store = store
    this.#out = out
    this.#agg = op.aggregator as Merging
    this.#size = spec.size
    this.#advance = spec.advance
    this.#lateness = op.allowedLateness
  }

  /** Open panes: each key has about size/advance of them, as it has windows. */
  get openWindows(): number {
    return this.#store.openWindows
  }

  get nextClose(): number | undefined {
    const start = this.#nextWindow()
    return start === undefined ? undefined : start + this.#size + this.#lateness
  }

  process(record: StreamRecord): void {
    const t = record.timestamp
    const pane = t - mod(t, this.#advance)
    const closed = this.#store.closedThrough
    // The last window holding this pane starts at it: closed, the record is late.
    if (pane + this.#size <= this.#watermark - this.#lateness || (closed !== null && pane <= closed)) {
      this.lateRecords++
      this.#out.late(record)
      return
    }
    const key = record.key ?? ''
    const agg = this.#agg
    const store = this.#store
    const w = store.get(pane, key)
    if (w === undefined) store.create(key, pane, pane + this.#advance, agg.add(agg.init(), record.value))
    else {
      w.acc = agg.add(w.acc, record.value)
      store.changed(w)
    }
  }

  advance(watermark: number): void {
    if (watermark <= this.#watermark) return
    this.#watermark = watermark
    const closeUpTo = watermark - this.#lateness
    const store = this.#store
    for (let start = this.#nextWindow(); start !== undefined && start + this.#size <= closeUpTo; ) {
      this.#emitWindow(start)
      store.closedThrough = start
      // The window starting at a pane is the last it is in.
      store.closeSlice(start)
      start = this.#nextWindow()
    }
    // Every window up to here is closed now, with records or not: one that had none must not
    // take a record that comes later (the per-window operator would not make it then).
    if (Number.isFinite(closeUpTo)) {
      const last = closeUpTo - this.#size - mod(closeUpTo - this.#size, this.#advance)
      const closed = store.closedThrough
      if (closed === null || last > closed) store.closedThrough = last
    }
  }

  /** The next window to close that holds a pane: none when no pane is open. */
  #nextWindow(): number | undefined {
    const first = this.#store.firstStart
    if (first === undefined) return undefined
    const earliest = first - this.#size + this.#advance
    const closed = this.#store.closedThrough
    return closed === null || closed + this.#advance < earliest ? earliest : closed + this.#advance
  }

  /** Emits window `[start, start + size)` of every key with a record in it, in key order. */
  #emitWindow(start: number): void {
    const store = this.#store
    const panes: Array<Map<string, Window>> = []
    const keys = new Set<string>()
    for (let p = start; p < start + this.#size; p += this.#advance) {
      const slice = store.sliceAt(p)
      if (slice === undefined) continue
      panes.push(slice)
      for (const key of slice.keys()) keys.add(key)
    }
    if (keys.size === 0) return
    const agg = this.#agg
    const end = start + this.#size
    for (const key of [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      let acc = agg.init()
      for (const slice of panes) {
        const w = slice.get(key)
        if (w === undefined) continue
        acc = mergePane(agg, acc, w.acc)
      }
      const value = agg.result ? agg.result(acc) : acc
      this.#out.emit({ key, value: { key, start, end, value }, timestamp: end - 1 })
    }
  }
}

/**
 * `acc` merged with a pane's accumulator, and never the pane's own object: a merge may hand
 * back its argument, which later windows still read and the next merge may change in place.
 */
function mergePane(agg: Merging, acc: unknown, pane: unknown): unknown {
  const merged = agg.merge(acc, pane)
  return merged === pane ? cloneState(merged) : merged
}

/**
 * The open windows a paned store holds, per key, with their merged accumulators: what the
 * per-window layout would hold (for queryable state, runtime/query.ts). A window is open
 * until closed: its start is after `closedThrough`.
 */
export function openWindowsOfPanes(
  op: WindowAggregateNode,
  store: WindowStore,
): Map<string, Array<{ start: number; end: number; acc: unknown }>> {
  const { size, advance } = op.window as HoppingWindows
  const agg = op.aggregator as Merging
  const panes = new Map<string, Map<number, unknown>>()
  for (const [composite, v] of store.entries()) {
    const sep = composite.lastIndexOf('\0')
    const key = composite.slice(0, sep)
    let ofKey = panes.get(key)
    if (ofKey === undefined) {
      ofKey = new Map()
      panes.set(key, ofKey)
    }
    ofKey.set(Number(composite.slice(sep + 1)), (v as { acc: unknown }).acc)
  }
  const closed = store.closedThrough
  const out = new Map<string, Array<{ start: number; end: number; acc: unknown }>>()
  for (const [key, ofKey] of panes) {
    const starts = new Set<number>()
    for (const p of ofKey.keys()) {
      for (let s = p - size + advance; s <= p; s += advance) if (closed === null || s > closed) starts.add(s)
    }
    const windows: Array<{ start: number; end: number; acc: unknown }> = []
    for (const start of [...starts].sort((a, b) => a - b)) {
      let acc = agg.init()
      for (let p = start; p < start + size; p += advance) {
        if (!ofKey.has(p)) continue
        acc = mergePane(agg, acc, ofKey.get(p))
      }
      windows.push({ start, end: start + size, acc })
    }
    out.set(key, windows)
  }
  return out
}
