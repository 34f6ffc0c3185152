/**
 * State of fixed (tumbling, hopping, sliding) windows for one task: window start → record key
 * → window. It is the same data a KeyValueStore would hold under `<key>\0<start>`, kept in the
 * shape the operator uses it, because that lookup is the hot path of every windowed pipeline:
 * a record touches size/advance windows, and building a composite string per window and
 * hashing it cost more than the aggregation itself (measured: `npm run bench:engine --
 * --workloads sliding`).
 *
 * Invariants:
 * - Loaded once from committed state when the task starts; afterwards memory is
 *   authoritative and the backend is only written to (so, unlike KeyValueStore, no read can
 *   fall through to a stale committed value, and deletes need no in-flight bookkeeping).
 * - On disk it keeps KeyValueStore's layout: `<store>\0<partition>\0<key>\0<start>` →
 *   `{ end, acc }`, so the test driver's `state()` and the threaded runner read it unchanged.
 * - A window changed since the last `takeWrites` is in `#dirty` exactly once (its `dirty`
 *   flag); a closed window is written as a delete.
 * - Hopping windows that merge (see PanedWindowOperator) keep panes here instead: the same
 *   entries, each `advance` long, and one more, `<store>\0<partition>\0\0closed` →
 *   `{ end: <start of the last window closed>, acc: null }` (`closedThrough`).
 */
import { DELETED, type StateBackend, type TaskStore } from './state.ts'

/** The composite key of the paned windows' `closedThrough` entry: record key '', start "closed". */
const CLOSED_MARKER = '\0closed'

export interface Window {
  readonly key: string
  readonly start: number
  readonly end: number
  acc: unknown
  dirty: boolean
  closed: boolean
  /**
   * Its backend key and last written value, made once: a sliding window is written at most
   * commits while it is open, and building `<store>\0<partition>\0<key>\0<start>` (a start time
   * turned into digits) and `{ end, acc }` at each was a fifth of `bench:engine`'s sliding case.
   */
  readonly id: string
  stored: { end: number; acc: unknown } | null
}

export class WindowStore implements TaskStore {
  readonly name: string
  readonly #prefix: string
  /**
   * Open windows by start: `#starts` ascending, `#slices[i]` = key → window for `#starts[i]`.
   * Two arrays rather than a Map: only a handful of starts are open at once, and a scan from
   * the newest end beats hashing a start time (a heap number, not a small integer).
   */
  readonly #starts: number[] = []
  readonly #slices: Map<string, Window>[] = []
  #dirty: Window[] = []
  #open = 0
  /** Lengths (end − start) of the windows loaded from committed state. */
  readonly loadedSpans = new Set<number>()
  #closedThrough: number | null = null
  #closedDirty = false

  constructor(name: string, partition: number, backend: StateBackend) {
    this.name = name
    this.#prefix = `${name}\0${partition}\0`
    for (const [full, v] of backend.scan(this.#prefix)) {
      const composite = full.slice(this.#prefix.length)
      const sep = composite.lastIndexOf('\0')
      const { end, acc } = v as { end: number; acc: unknown }
      if (composite === CLOSED_MARKER) {
        this.#closedThrough = end
        continue
      }
      const w: Window = {
        key: composite.slice(0, sep),
        start: Number(composite.slice(sep + 1)),
        end,
        acc,
        dirty: false,
        closed: false,
        id: full,
        stored: null,
      }
      this.#slice(w.start).set(w.key, w)
      this.#open++
      this.loadedSpans.add(end - w.start)
    }
  }

  /** Paned windows: the start of the last window closed (with records or not), kept with the panes (null: none yet). */
  get closedThrough(): number | null {
    return this.#closedThrough
  }

  set closedThrough(start: number) {
    this.#closedThrough = start
    this.#closedDirty = true
  }

  /** The windows (or panes) of `start`, by key. */
  sliceAt(start: number): Map<string, Window> | undefined {
    const starts = this.#starts
    for (let i = starts.length - 1; i >= 0; i--) {
      if (starts[i] === start) return this.#slices[i]
      if (starts[i]! < start) return undefined
    }
    return undefined
  }

  get(start: number, key: string): Window | undefined {
    return this.sliceAt(start)?.get(key)
  }

  create(key: string, start: number, end: number, acc: unknown): Window {
    const w: Window = {
      key,
      start,
      end,
      acc,
      dirty: true,
      closed: false,
      id: `${this.#prefix}${key}\0${start}`,
      stored: null,
    }
    this.#slice(start).set(key, w)
    this.#dirty.push(w)
    this.#open++
    return w
  }

  /** Call after changing `w.acc`. */
  changed(w: Window): void {
    if (w.dirty) return
    w.dirty = true
    this.#dirty.push(w)
  }

  /** The earliest start with open windows. */
  get firstStart(): number | undefined {
    return this.#starts[0]
  }

  /** Removes every window starting at `start` and returns them, sorted by key. */
  closeSlice(start: number): Window[] {
    const i = this.#starts.indexOf(start)
    if (i < 0) return []
    const slice = this.#slices[i]!
    this.#starts.splice(i, 1)
    this.#slices.splice(i, 1)
    // Sorted by key so that output order does not depend on insertion order, which differs
    // after a restore: a restarted task emits exactly what the original run would have.
    const windows = [...slice.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    for (const w of windows) {
      w.closed = true
      this.changed(w)
    }
    this.#open -= windows.length
    return windows
  }

  get openWindows(): number {
    return this.#open
  }

  /** The first end among open windows (fixed windows: every window of a start ends together). */
  firstEnd(): number | undefined {
    const slice = this.#slices[0]
    if (slice === undefined) return undefined
    for (const w of slice.values()) return w.end
    return undefined
  }

  takeWrites(into: Map<string, unknown>): void {
    if (this.#closedDirty) {
      this.#closedDirty = false
      into.set(this.#prefix + CLOSED_MARKER, { end: this.#closedThrough, acc: null })
    }
    for (const w of this.#dirty) {
      w.dirty = false
      if (w.closed) {
        into.set(w.id, DELETED)
        continue
      }
      // A live value, as every store hands out: the backend snapshots what it keeps.
      let stored = w.stored
      if (stored === null || stored.acc !== w.acc) {
        stored = { end: w.end, acc: w.acc }
        w.stored = stored
      }
      into.set(w.id, stored)
    }
    this.#dirty = []
  }

  committed(): void {}

  *entries(): Iterable<[string, unknown]> {
    for (const slice of this.#slices) {
      for (const w of slice.values()) yield [`${w.key}\0${w.start}`, { end: w.end, acc: w.acc }]
    }
  }

  get cachedEntries(): number {
    return this.#open
  }

  #slice(start: number): Map<string, Window> {
    const starts = this.#starts
    let i = starts.length
    while (i > 0 && starts[i - 1]! > start) i--
    if (i > 0 && starts[i - 1] === start) return this.#slices[i - 1]!
    const slice = new Map<string, Window>()
    starts.splice(i, 0, start)
    this.#slices.splice(i, 0, slice)
    return slice
  }
}
