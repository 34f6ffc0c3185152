/**
 * Stream–stream joins inside a task: records of two co-partitioned streams with the same key
 * pair up when their event times are close — left at l, right at r, when
 * l − before ≤ r ≤ l + after (`within: d` is before = after = d).
 *
 * Each side's waiting records are held in memory by side and key, and that is authoritative
 * after the task starts (as in WindowStore). The store holds what a restart needs, written in
 * runs: a commit writes the records that arrived since the last one and still wait as one
 * entry, `r\0<run>` → `[[side, key, t, paired, value], …]` (at most RUN_RECORDS a run), and
 * deletes a run once its last record has left. A record that leaves before the commit costs
 * no store write at all (most do, in a join with a short window: a bid waits for auctions
 * only until the watermark passes it). Per record, the store then does no key, no entry, no
 * put and no delete of its own: measured on the embedded log (`npm run bench:joins`), those
 * were more than half of a join's thread, and most of LMDB's writing.
 *
 * A run is never rewritten. Two small entries say what changed in it since:
 * - `w` → the watermark the join last advanced to. A record leaves exactly when its expiry
 *   (below) passes the watermark, so on restore the records of a run whose expiry is behind
 *   `w` have left, and the others still wait (a record that arrives on time has its expiry
 *   at or past the watermark). Written only while runs exist.
 * - `r\0<run>\0m` → indexes of records paired after their run was written (left and outer
 *   joins emit the records that never paired; inner joins never write it).
 * Entries of the earlier layout, one per record (`<side>\0<key>\0<sequence>` →
 * `{ t, v, m, id }`), are still read, and kept up to date until their records leave.
 *
 * Every arrival is paired at once with the other side's waiting records, so the set of pairs
 * does not depend on which side is read first; a pair carries the later of its two times.
 *
 * A waiting record leaves when no record that could still arrive on time can pair with it.
 * Records behind W − lateness (W: the task watermark) are late and dropped, so a left record
 * is done once W − lateness > l + after, a right one once W − lateness > r + before. An
 * in-memory index of those expiry times (rebuilt from the store on start) finds them when W
 * moves; left joins then emit each left record that never paired, outer joins the unpaired
 * records of both sides — once, when their window has closed, so the result is final.
 */
import type { StreamJoinNode } from '../dsl/nodes.ts'
import { MinHeap } from '../util/heap.ts'
import type { Push } from './chain.ts'
import { OperatorError, type StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'

/**
 * Most records in one run entry. It bounds an entry's size: on Kafka each store write is a
 * changelog record, and a broker refuses records over its message size (1 MB by default).
 */
export const RUN_RECORDS = 256

/** A stored record of a run: side, key, event time, paired (1/0), value. */
type RunRecord = [0 | 1, string, number, 0 | 1, unknown]

/** The earlier layout's entry: one record. */
interface LegacyRecord {
  t: number
  v: unknown
  m: boolean
}

/** A run entry in the store, while any of its records waits. */
interface Run {
  readonly key: string
  /** Its records still waiting. */
  live: number
  /** Indexes of its records paired after it was written (null: none). */
  marks: number[] | null
  /** The marks entry exists in the store (or is on its way there). */
  marksWritten: boolean
  /** An entry of the earlier layout: one record, rewritten when it pairs. */
  readonly legacy: boolean
}

interface Held {
  t: number
  v: unknown
  /** Paired at least once (only tracked where unpaired records are emitted). */
  m: boolean
  /** The run it was written in: null until a commit writes it (or if it left before). */
  run: Run | null
  /** Its index in its run. */
  i: number
  /** It has left. */
  gone: boolean
}

interface Expiry {
  at: number
  side: 0 | 1
  key: string
  /** Arrival order: records due at the same time leave (and are emitted) in it, restart or not. */
  seq: number
}

/** A record that arrived since the last commit took the writes: written then if still waiting. */
interface Unwritten {
  held: Held
  side: 0 | 1
  key: string
}

const ADVANCED = 'w'
const MARKS = '\0m'

export class StreamJoinOperator {
  readonly #name: string
  readonly #op: StreamJoinNode
  readonly #store: KeyValueStore<unknown>
  readonly #next: Push
  /** `<side>\0<key>` → waiting records in arrival order. */
  readonly #held = new Map<string, Held[]>()
  readonly #index = new MinHeap<Expiry>(
    (e) => e.at,
    (e) => e.seq,
  )
  /** The next arrival's number (Expiry.seq). */
  #arrivals = 0
  /** The next run's number. */
  #runs = 0
  /** Run entries (not legacy ones) in the store with records still waiting. */
  #liveRuns = 0
  #unwritten: Unwritten[] = []
  /** Runs with marks not yet written. */
  readonly #marked = new Set<Run>()
  /** The watermark the join last advanced to, and what the store says it is (−∞: no entry). */
  #advanced = Number.NEGATIVE_INFINITY
  #storedAdvanced = Number.NEGATIVE_INFINITY
  /** Records dropped for arriving behind the watermark − lateness. */
  readonly #dropLate: () => void

  constructor(
    name: string,
    op: StreamJoinNode,
    store: KeyValueStore<unknown>,
    next: Push,
    dropLate: () => void,
  ) {
    this.#dropLate = dropLate
    this.#name = name
    this.#op = op
    this.#store = store
    this.#next = next
    store.beforeTakeWrites(() => this.#write())
    this.#load()
  }

  /** Rebuilds the waiting records from the store, in the order they arrived. */
  #load(): void {
    const legacy: Array<{ seq: number; side: 0 | 1; key: string; id: string; w: LegacyRecord }> = []
    const runs: Array<{ seq: number; id: string; records: RunRecord[] }> = []
    const marks = new Map<string, number[]>()
    for (const [id, value] of this.#store.entries()) {
      if (id === ADVANCED) {
        this.#advanced = this.#storedAdvanced = value as number
      } else if (id.charCodeAt(0) === 114 /* r */) {
        if (id.endsWith(MARKS)) marks.set(id.slice(0, -MARKS.length), value as number[])
        else runs.push({ seq: Number(id.slice(2)), id, records: value as RunRecord[] })
      } else {
        const a = id.indexOf('\0')
        const b = id.lastIndexOf('\0')
        const side = id.charCodeAt(0) === 48 ? 0 : 1
        legacy.push({
          seq: Number(id.slice(b + 1)),
          side,
          key: id.slice(a + 1, b),
          id,
          w: value as LegacyRecord,
        })
      }
    }
    // The earlier layout's records arrived before any run's.
    legacy.sort((x, y) => x.seq - y.seq)
    for (const { side, key, id, w } of legacy) {
      const run: Run = { key: id, live: 1, marks: null, marksWritten: false, legacy: true }
      this.#hold(side, key, { t: w.t, v: w.v, m: w.m, run, i: 0, gone: false })
    }
    runs.sort((x, y) => x.seq - y.seq)
    for (const { seq, id, records } of runs) {
      if (seq >= this.#runs) this.#runs = seq + 1
      const marked = marks.get(id) ?? null
      const run: Run = { key: id, live: 0, marks: marked, marksWritten: marked !== null, legacy: false }
      const pairedLater = marked === null ? null : new Set(marked)
      for (let i = 0; i < records.length; i++) {
        const [side, key, t, m, v] = records[i]!
        // Behind the last watermark advanced to: it left then.
        if (this.#expiry(side, t) < this.#advanced) continue
        run.live++
        this.#hold(side, key, { t, v, m: m === 1 || (pairedLater?.has(i) ?? false), run, i, gone: false })
      }
      if (run.live > 0) this.#liveRuns++
      else this.#drop(run)
    }
  }

  /** Adds a waiting record to its list and the expiry index. */
  #hold(side: 0 | 1, key: string, held: Held): void {
    this.#listAt(side === 0 ? `0\0${key}` : `1\0${key}`).push(held)
    this.#index.push({ at: this.#expiry(side, held.t), side, key, seq: this.#arrivals++ })
  }

  /** The waiting records at `<side>\0<key>`, made when missing. */
  #listAt(k: string): Held[] {
    let list = this.#held.get(k)
    if (!list) {
      list = []
      this.#held.set(k, list)
    }
    return list
  }

  /** The watermark past which a record of `side` at time `t` can no longer pair. */
  #expiry(side: 0 | 1, t: number): number {
    return t + (side === 0 ? this.#op.after : this.#op.before) + this.#op.allowedLateness
  }

  process(side: 0 | 1, r: StreamRecord, watermark: number): void {
    const key = r.key
    if (key === null) {
      throw new OperatorError(
        this.#name,
        new Error('records joined with another stream need a key: keyBy first'),
      )
    }
    const t = r.timestamp
    if (t < watermark - this.#op.allowedLateness) {
      this.#dropLate()
      return
    }
    const { before, after, type } = this.#op
    const trackOther = type === 'outer' || (type === 'left' && side === 1)
    const others = this.#held.get(side === 0 ? `1\0${key}` : `0\0${key}`)
    let paired = false
    if (others) {
      // Left at l pairs right at r when l − before ≤ r ≤ l + after.
      const lo = side === 0 ? t - before : t - after
      const hi = side === 0 ? t + after : t + before
      for (const o of others) {
        if (o.t < lo || o.t > hi) continue
        paired = true
        if (trackOther && !o.m) {
          // The other record now counts as paired (it is emitted unpaired otherwise). Not yet
          // written, it is written so.
          o.m = true
          if (o.run !== null) this.#pairedLater(o)
        }
        this.#emit(key, side === 0 ? r.value : o.v, side === 0 ? o.v : r.value, Math.max(t, o.t))
      }
    }
    const held: Held = { t, v: r.value, m: paired, run: null, i: 0, gone: false }
    this.#unwritten.push({ held, side, key })
    this.#hold(side, key, held)
  }

  /** A record already written has paired: its run's marks say so (an earlier-layout entry is rewritten). */
  #pairedLater(held: Held): void {
    const run = held.run!
    if (run.legacy) {
      this.#store.put(run.key, { t: held.t, v: held.v, m: true, id: run.key })
      return
    }
    if (run.marks === null) run.marks = []
    run.marks.push(held.i)
    this.#marked.add(run)
  }

  /**
   * A commit takes the store's writes: the records that arrived since the last and still wait
   * go into new runs; new marks and the watermark advanced to are written with them.
   */
  #write(): void {
    let records: RunRecord[] = []
    let run: Run | null = null
    for (const { held, side, key } of this.#unwritten) {
      if (held.gone) continue
      if (run === null || records.length === RUN_RECORDS) {
        if (run !== null) this.#store.put(run.key, records)
        run = {
          key: `r\0${String(this.#runs++).padStart(12, '0')}`,
          live: 0,
          marks: null,
          marksWritten: false,
          legacy: false,
        }
        records = []
        this.#liveRuns++
      }
      held.run = run
      held.i = records.length
      run.live++
      records.push([side, key, held.t, held.m ? 1 : 0, held.v])
    }
    if (run !== null) this.#store.put(run.key, records)
    this.#unwritten = []
    for (const marked of this.#marked) {
      // A run whose records have all left has no marks to keep.
      if (marked.live === 0) continue
      this.#store.put(marked.key + MARKS, marked.marks)
      marked.marksWritten = true
    }
    this.#marked.clear()
    // While no run is stored there is nothing the watermark has to filter on restore.
    if (this.#liveRuns > 0 && this.#advanced !== this.#storedAdvanced) {
      this.#store.put(ADVANCED, this.#advanced)
      this.#storedAdvanced = this.#advanced
    } else if (this.#liveRuns === 0 && this.#storedAdvanced !== Number.NEGATIVE_INFINITY) {
      this.#store.delete(ADVANCED)
      this.#storedAdvanced = Number.NEGATIVE_INFINITY
    }
  }

  /** A written record has left: its run goes once the last of its records has. */
  #left(run: Run): void {
    if (--run.live > 0) return
    if (!run.legacy) this.#liveRuns--
    this.#drop(run)
  }

  #drop(run: Run): void {
    this.#store.delete(run.key)
    if (run.marksWritten) this.#store.delete(run.key + MARKS)
    this.#marked.delete(run)
  }

  /** The watermark moved: records that can no longer pair leave (unpaired ones are emitted if asked). */
  advance(watermark: number): void {
    if (watermark > this.#advanced) this.#advanced = watermark
    const due = this.#index.popBelow(watermark)
    if (due.length === 0) return
    const done = new Set<string>()
    const { type } = this.#op
    for (const { side, key } of due) {
      const k = `${side}\0${key}`
      if (done.has(k)) continue
      done.add(k)
      const list = this.#held.get(k)
      if (!list) continue
      const keep: Held[] = []
      for (const w of list) {
        if (this.#expiry(side, w.t) >= watermark) {
          keep.push(w)
          continue
        }
        w.gone = true
        if (w.run !== null) this.#left(w.run)
        if (w.m) continue
        if (side === 0 && type !== 'inner') this.#emit(key, w.v, undefined, w.t)
        if (side === 1 && type === 'outer') this.#emit(key, undefined, w.v, w.t)
      }
      if (keep.length === 0) this.#held.delete(k)
      else if (keep.length !== list.length) this.#held.set(k, keep)
    }
  }

  #emit(key: string, left: unknown, right: unknown, timestamp: number): void {
    let value: unknown
    try {
      value = this.#op.joiner(left, right)
    } catch (e) {
      throw new OperatorError(this.#name, e)
    }
    this.#next({ key, value, timestamp })
  }

  /** Records waiting on both sides (a state-size figure). */
  get waiting(): number {
    return this.#index.size
  }
}
