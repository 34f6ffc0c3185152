/**
 * Session windows for one task: `[first event, last event + gap)` per key. Records at most
 * `gap` apart share a session, so a record at exactly `end` still joins it: a session is
 * complete only when the watermark W > end, and closes when W > end + lateness. A record that
 * overlaps or bridges sessions merges them with the aggregator's `merge`, oldest session
 * first.
 *
 * State: store `<pipeline>.<name>`, key `<record key>\0<session start>` → `{ end, acc }`.
 * Sessions move and merge, so they live in a KeyValueStore; in-memory indexes (session end →
 * entries, key → its sessions) are rebuilt from the store when the task starts.
 */
import type { Aggregator } from '../dsl/aggregations.ts'
import type { WindowAggregateNode } from '../dsl/nodes.ts'
import type { StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'
import type { WindowOperator, WindowOutput, WindowState } from './window-operator.ts'

export class SessionWindowOperator implements WindowOperator {
  readonly #op: WindowAggregateNode
  readonly #gap: number
  readonly #agg: Aggregator<unknown, unknown, unknown>
  readonly #store: KeyValueStore<WindowState>
  readonly #out: WindowOutput
  /** end → composite keys of the open sessions ending there; `#ends` sorted ascending. */
  readonly #byEnd = new Map<number, Set<string>>()
  #ends: number[] = []
  /** Open sessions per key, so a record finds its key's sessions without a scan. */
  readonly #sessions = new Map<string, Set<string>>()
  #watermark = Number.NEGATIVE_INFINITY
  lateRecords = 0

  constructor(op: WindowAggregateNode, store: KeyValueStore<WindowState>, out: WindowOutput) {
    this.#op = op
    this.#gap = (op.window as { gap: number }).gap
    this.#agg = op.aggregator
    this.#store = store
    this.#out = out
    for (const [k, w] of store.entries()) {
      this.#index(k, w.end)
      this.#sessionKeys(k.slice(0, k.lastIndexOf('\0'))).add(k)
    }
  }

  get openWindows(): number {
    let n = 0
    for (const s of this.#byEnd.values()) n += s.size
    return n
  }

  get nextClose(): number | undefined {
    const end = this.#ends[0]
    return end === undefined ? undefined : end + this.#op.allowedLateness + 1
  }

  /** Sessions ending at or before this are closed. */
  #closedUpTo(watermark: number): number {
    return watermark - this.#op.allowedLateness - 1
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
    const gap = this.#gap
    const key = record.key ?? ''
    const ts = record.timestamp
    const closedBefore = this.#closedUpTo(this.#watermark)
    let start = ts
    let end = ts + gap
    // Sessions of this key that overlap or touch [ts, ts + gap] merge with the new record.
    const prefix = `${key}\0`
    const merged: Array<{ start: number; composite: string | null; acc: unknown; end: number }> = []
    for (const [composite, w] of this.#sessionsOf(key)) {
      const wStart = Number(composite.slice(prefix.length))
      if (wStart <= end && ts <= w.end) merged.push({ start: wStart, composite, acc: w.acc, end: w.end })
    }
    if (merged.length === 0 && end <= closedBefore) {
      this.lateRecords++
      this.#out.late(record)
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

  *#sessionsOf(key: string): Iterable<[string, WindowState]> {
    const keys = this.#sessionKeys(key)
    for (const composite of [...keys]) {
      const w = this.#store.get(composite)
      if (w === undefined) keys.delete(composite)
      else yield [composite, w]
    }
  }

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
        const sessions = this.#sessions.get(key)
        sessions?.delete(composite)
        if (sessions?.size === 0) this.#sessions.delete(key)
      }
    }
  }

  #emit(key: string, start: number, w: WindowState): void {
    const value = this.#agg.result ? this.#agg.result(w.acc) : w.acc
    this.#out.emit({ key, value: { key, start, end: w.end, value }, timestamp: w.end - 1 })
  }
}
