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
 * Session windows are `[first event, last event + gap)` per key; a record that overlaps or
 * bridges sessions merges them with the aggregator's `merge`.
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
  lateRecords = 0

  constructor(op: WindowAggregateNode, store: KeyValueStore<WindowState>, out: WindowOutput) {
    this.#op = op
    this.#agg = op.aggregator
    this.#store = store
    this.#out = out
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
    return end === undefined ? undefined : end + this.#op.allowedLateness
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
    const closedBefore = this.#watermark - this.#op.allowedLateness
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
    const closedBefore = this.#watermark - this.#op.allowedLateness
    let start = ts
    let end = ts + gap
    let acc = this.#agg.add(this.#agg.init(), record.value)
    // Sessions of this key that overlap [ts, ts + gap) merge with the new record.
    const prefix = `${key}\0`
    const merged: Array<[string, WindowState]> = []
    for (const [composite, w] of this.#sessionsOf(prefix)) {
      const wStart = Number(composite.slice(prefix.length))
      if (wStart <= end && ts <= w.end) merged.push([composite, w])
    }
    if (merged.length === 0 && end <= closedBefore) {
      this.#late(record)
      return
    }
    for (const [composite, w] of merged) {
      const wStart = Number(composite.slice(prefix.length))
      start = Math.min(start, wStart)
      end = Math.max(end, w.end)
      acc = this.#agg.merge!(w.acc, acc)
      this.#store.delete(composite)
      this.#unindex(composite, w.end)
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
    const closeUpTo = watermark - this.#op.allowedLateness
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
