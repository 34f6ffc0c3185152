/**
 * Windowed aggregation for one task.
 *
 * State: store `<pipeline>.<name>`, key `<record key>\0<window start>` → `{ end, acc }`.
 * An in-memory index (window end → entries) finds the windows to close as the watermark
 * moves; it is rebuilt from the store when the task starts.
 *
 * Semantics (watermark W: records with event time < W are expected to have arrived):
 * - a window `[start, end)` is complete when W ≥ end, and closes when W ≥ end + lateness;
 * - `emit: 'final'` emits once, on close; `emit: 'update'` emits after every change;
 * - a record whose windows are all closed is late: it goes to the `late` topic (or is
 *   counted and dropped).
 * Session windows are `[first event, last event + gap)` per key. Records at most `gap` apart
 * share a session, so a record at exactly `end` still joins it: a session is complete only
 * when W > end, and closes when W > end + lateness. A record that overlaps or bridges sessions
 * merges them with the aggregator's `merge`, oldest session first.
 */
import type { Aggregator } from '../dsl/aggregations.ts'
import type { WindowAggregateNode } from '../dsl/nodes.ts'
import { windowStarts } from '../dsl/windows.ts'
import type { StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'

interface WindowState {
  end: number
  acc: unknown
}

export interface WindowOutput {
  emit(record: StreamRecord): void
  late(record: StreamRecord): void
}

export class WindowOperator {
  readonly #op: WindowAggregateNode
  readonly #agg: Aggregator<unknown, unknown, unknown>
  readonly #store: KeyValueStore<WindowState>
  readonly #out: WindowOutput
  /** end → composite keys of the open windows ending there; `#ends` sorted ascending. */
  readonly #byEnd = new Map<number, Set<string>>()
  #ends: number[] = []
  readonly #starts: number[] = []
  /** Open sessions per key, so a record finds its key's sessions without a scan. */
  readonly #sessions = new Map<string, Set<string>>()
  #watermark = Number.NEGATIVE_INFINITY
  /** 1 for sessions (a record at `end` may still join one), 0 for fixed windows. */
  readonly #closeAfter: number
  lateRecords = 0

  constructor(op: WindowAggregateNode, store: KeyValueStore<WindowState>, out: WindowOutput) {
    this.#op = op
    this.#agg = op.aggregator
    this.#store = store
    this.#out = out
    this.#closeAfter = op.window.kind === 'session' ? 1 : 0
    for (const [k, w] of store.entries()) {
      this.#index(k, w.end)
      if (op.window.kind === 'session') this.#sessionKeys(k.slice(0, k.lastIndexOf('\0'))).add(k)
    }
  }

  get openWindows(): number {
    let n = 0
    for (const s of this.#byEnd.values()) n += s.size
    return n
  }

  /** When the next window closes (event time), for "why no output" reporting. */
  get nextClose(): number | undefined {
    const end = this.#ends[0]
    return end === undefined ? undefined : end + this.#op.allowedLateness + this.#closeAfter
  }

  /** Windows ending at or before this are closed. */
  #closedUpTo(watermark: number): number {
    return watermark - this.#op.allowedLateness - this.#closeAfter
  }

  #index(composite: string, end: number): void {
    let set = this.#byEnd.get(end)
    if (!set) {
      set = new Set()
      this.#byEnd.set(end, set)
      const ends = this.#ends
      let i = ends.length
      while (i > 0 && ends[i - 1]! > end) i--
      ends.splice(i, 0, end)
    }
    set.add(composite)
  }

  #unindex(composite: string, end: number): void {
    const set = this.#byEnd.get(end)
    if (!set) return
    set.delete(composite)
    if (set.size === 0) {
      this.#byEnd.delete(end)
      const i = this.#ends.indexOf(end)
      if (i >= 0) this.#ends.splice(i, 1)
    }
  }

  process(record: StreamRecord): void {
    if (this.#op.window.kind === 'session') this.#processSession(record)
    else this.#processFixed(record)
  }

  #processFixed(record: StreamRecord): void {
    const spec = this.#op.window as Exclude<WindowAggregateNode['window'], { kind: 'session' }>
    const key = record.key ?? ''
    const closedBefore = this.#closedUpTo(this.#watermark)
    windowStarts(spec, record.timestamp, this.#starts)
    let accepted = false
    for (const start of this.#starts) {
      const end = start + spec.size
      if (end <= closedBefore) continue
      accepted = true
      const composite = `${key}\0${start}`
      let w = this.#store.get(composite)
      if (w === undefined) {
        w = { end, acc: this.#agg.add(this.#agg.init(), record.value) }
        this.#index(composite, end)
      } else {
        w = { end, acc: this.#agg.add(w.acc, record.value) }
      }
      this.#store.put(composite, w)
      if (this.#op.emit === 'update') this.#emit(key, start, w)
    }
    if (!accepted) this.#late(record)
  }

  #processSession(record: StreamRecord): void {
    const gap = (this.#op.window as { gap: number }).gap
    const key = record.key ?? ''
    const ts = record.timestamp
    const closedBefore = this.#closedUpTo(this.#watermark)
    let start = ts
    let end = ts + gap
    // Sessions of this key that overlap or touch [ts, ts + gap] merge with the new record.
    const prefix = `${key}\0`
    const merged: Array<{ start: number; composite: string | null; acc: unknown; end: number }> = []
    for (const [composite, w] of this.#sessionsOf(prefix)) {
      const wStart = Number(composite.slice(prefix.length))
      if (wStart <= end && ts <= w.end) merged.push({ start: wStart, composite, acc: w.acc, end: w.end })
    }
    if (merged.length === 0 && end <= closedBefore) {
      this.#late(record)
      return
    }
    // Fold oldest first (the new record by its time, after a session starting at the same
    // instant), so order-sensitive aggregators see event-time order whatever the index order.
    merged.push({ start: ts, composite: null, acc: this.#agg.add(this.#agg.init(), record.value), end })
    merged.sort((a, b) => a.start - b.start || (a.composite === null ? 1 : b.composite === null ? -1 : 0))
    let acc: unknown
    for (const [i, m] of merged.entries()) {
      start = Math.min(start, m.start)
      end = Math.max(end, m.end)
      acc = i === 0 ? m.acc : this.#agg.merge!(acc, m.acc)
      if (m.composite === null) continue
      this.#store.delete(m.composite)
      this.#unindex(m.composite, m.end)
    }
    const composite = `${key}\0${start}`
    const w = { end, acc }
    this.#store.put(composite, w)
    this.#index(composite, end)
    this.#sessionKeys(key).add(composite)
    if (this.#op.emit === 'update') this.#emit(key, start, w)
  }

  #sessionKeys(key: string): Set<string> {
    let s = this.#sessions.get(key)
    if (!s) {
      s = new Set()
      this.#sessions.set(key, s)
    }
    return s
  }

  *#sessionsOf(prefix: string): Iterable<[string, WindowState]> {
    const keys = this.#sessionKeys(prefix.slice(0, -1))
    for (const composite of [...keys]) {
      const w = this.#store.get(composite)
      if (w === undefined) keys.delete(composite)
      else yield [composite, w]
    }
  }

  /** The watermark moved: close (and in `final` mode emit) every window it passed. */
  advance(watermark: number): void {
    if (watermark <= this.#watermark) return
    this.#watermark = watermark
    const closeUpTo = this.#closedUpTo(watermark)
    while (this.#ends.length > 0 && this.#ends[0]! <= closeUpTo) {
      const end = this.#ends.shift()!
      const set = this.#byEnd.get(end)!
      this.#byEnd.delete(end)
      for (const composite of [...set].sort()) {
        const w = this.#store.get(composite)
        if (w === undefined) continue
        const sep = composite.lastIndexOf('\0')
        const key = composite.slice(0, sep)
        if (this.#op.emit === 'final') this.#emit(key, Number(composite.slice(sep + 1)), w)
        this.#store.delete(composite)
        this.#sessions.get(key)?.delete(composite)
      }
    }
  }

  #emit(key: string, start: number, w: WindowState): void {
    const value = this.#agg.result ? this.#agg.result(w.acc) : w.acc
    // Windowed results carry the window's last instant as event time, so downstream windows
    // place them in the right window.
    this.#out.emit({ key, value: { key, start, end: w.end, value }, timestamp: w.end - 1 })
  }

  #late(record: StreamRecord): void {
    this.lateRecords++
    this.#out.late(record)
  }
}
