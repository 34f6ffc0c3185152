/**
 * Windowed aggregation for one task. This file: the contract every window operator keeps, and
 * fixed windows (tumbling, hopping, sliding); session windows are in
 * session-window-operator.ts.
 *
 * Semantics (watermark W: records with event time < W are expected to have arrived):
 * - a window `[start, end)` is complete when W ≥ end, and closes when W ≥ end + lateness;
 * - `emit: 'final'` emits once, on close; `emit: 'update'` emits after every change;
 * - a record whose windows are all closed is late: it goes to the `late` topic (or is
 *   counted and dropped).
 * Windowed results carry the window's last instant (end − 1) as event time, so downstream
 * windows place them in the right window.
 */
import type { Aggregator } from '../dsl/aggregations.ts'
import type { WindowAggregateNode } from '../dsl/nodes.ts'
import { windowStarts } from '../dsl/windows.ts'
import type { StreamRecord } from './record.ts'
import type { Window, WindowStore } from './window-store.ts'

/** A window's stored value. */
export interface WindowState {
  end: number
  acc: unknown
}

export interface WindowOutput {
  emit(record: StreamRecord): void
  late(record: StreamRecord): void
}

export interface WindowOperator {
  process(record: StreamRecord): void
  /** The watermark moved: close (and in `final` mode emit) every window it passed. */
  advance(watermark: number): void
  readonly openWindows: number
  /** When the next window closes (event time), for "why no output" reporting. */
  readonly nextClose: number | undefined
  /** Counted since start: a task rebuilt after a rewind adds its predecessor's (Task.inheritFigures). */
  lateRecords: number
}

type FixedWindows = Exclude<WindowAggregateNode['window'], { kind: 'session' }>

export class FixedWindowOperator implements WindowOperator {
  readonly #op: WindowAggregateNode
  readonly #spec: FixedWindows
  readonly #agg: Aggregator<unknown, unknown, unknown>
  readonly #store: WindowStore
  readonly #out: WindowOutput
  readonly #starts: number[] = []
  #watermark = Number.NEGATIVE_INFINITY
  lateRecords = 0

  constructor(op: WindowAggregateNode, store: WindowStore, out: WindowOutput) {
    this.#op = op
    this.#spec = op.window as FixedWindows
    this.#agg = op.aggregator
    this.#store = store
    this.#out = out
  }

  get openWindows(): number {
    return this.#store.openWindows
  }

  get nextClose(): number | undefined {
    const end = this.#store.firstEnd()
    return end === undefined ? undefined : end + this.#op.allowedLateness
  }

  process(record: StreamRecord): void {
    const size = this.#spec.size
    const key = record.key ?? ''
    // Windows ending at or before this are closed.
    const closedBefore = this.#watermark - this.#op.allowedLateness
    const store = this.#store
    const agg = this.#agg
    const update = this.#op.emit === 'update'
    windowStarts(this.#spec, record.timestamp, this.#starts)
    let accepted = false
    for (const start of this.#starts) {
      const end = start + size
      if (end <= closedBefore) continue
      accepted = true
      let w = store.get(start, key)
      if (w === undefined) {
        w = store.create(key, start, end, agg.add(agg.init(), record.value))
      } else {
        w.acc = agg.add(w.acc, record.value)
        store.changed(w)
      }
      if (update) this.#emit(w)
    }
    if (!accepted) {
      this.lateRecords++
      this.#out.late(record)
    }
  }

  advance(watermark: number): void {
    if (watermark <= this.#watermark) return
    this.#watermark = watermark
    const closeUpTo = watermark - this.#op.allowedLateness
    const store = this.#store
    const size = this.#spec.size
    for (
      let start = store.firstStart;
      start !== undefined && start + size <= closeUpTo;
      start = store.firstStart
    ) {
      const closed = store.closeSlice(start)
      if (this.#op.emit === 'final') for (const w of closed) this.#emit(w)
    }
  }

  #emit(w: Window): void {
    const value = this.#agg.result ? this.#agg.result(w.acc) : w.acc
    this.#out.emit({
      key: w.key,
      value: { key: w.key, start: w.start, end: w.end, value },
      timestamp: w.end - 1,
    })
  }
}
