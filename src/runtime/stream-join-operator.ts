/**
 * Stream–stream joins inside a task: records of two co-partitioned streams with the same key
 * pair up when their event times are close — left at l, right at r, when
 * l − before ≤ r ≤ l + after (`within: d` is before = after = d).
 *
 * Each side's records wait in the join's store, one entry per record
 * (`<side>\0<key>\0<sequence>` → `{ t, v, m, id }`, the object kept in memory), mirrored
 * by side and key: memory is authoritative after the task starts (as in WindowStore), so a
 * commit writes only the records that arrived, paired or left — not whole per-key lists.
 * A record is written only when a commit takes the store's writes, and only if it is still
 * waiting then: most records of a join with a short window (a bid waits for auctions only
 * until the watermark passes it) leave first, and cost no store entry, key or delete at all.
 * Every arrival is paired at
 * once with the other side's waiting records, so the set of pairs does not depend on which
 * side is read first; a pair carries the later of its two times.
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

interface Waiting {
  t: number
  v: unknown
  /** Paired at least once (only tracked where unpaired records are emitted). */
  m: boolean
}

interface Held extends Waiting {
  /** Its store key once a commit has written it; null before, '' if it left unwritten. */
  id: string | null
}

interface Expiry {
  at: number
  side: 0 | 1
  key: string
}

/** A record that arrived since the last commit took the writes: written then if still waiting. */
interface Unwritten {
  held: Held
  side: 0 | 1
  key: string
  seq: number
}

export class StreamJoinOperator {
  readonly #name: string
  readonly #op: StreamJoinNode
  readonly #store: KeyValueStore<Waiting>
  readonly #next: Push
  /** `<side>\0<key>` → waiting records in arrival order. */
  readonly #held = new Map<string, Held[]>()
  readonly #index = new MinHeap<Expiry>((e) => e.at)
  #sequence = 0
  #unwritten: Unwritten[] = []
  /** Records dropped for arriving behind the watermark − lateness. */
  readonly #dropLate: () => void

  constructor(
    name: string,
    op: StreamJoinNode,
    store: KeyValueStore<Waiting>,
    next: Push,
    dropLate: () => void,
  ) {
    this.#dropLate = dropLate
    this.#name = name
    this.#op = op
    this.#store = store
    this.#next = next
    store.beforeTakeWrites(() => this.#write())
    const loaded: Array<{ seq: number; side: 0 | 1; key: string; held: Held }> = []
    for (const [id, w] of store.entries()) {
      const a = id.indexOf('\0')
      const b = id.lastIndexOf('\0')
      const side = id.charCodeAt(0) === 48 ? 0 : 1
      const seq = Number(id.slice(b + 1))
      loaded.push({ seq, side, key: id.slice(a + 1, b), held: { ...w, id } })
      if (seq >= this.#sequence) this.#sequence = seq + 1
    }
    loaded.sort((x, y) => x.seq - y.seq)
    for (const { side, key, held } of loaded) {
      this.#list(side, key).push(held)
      this.#index.push({ at: this.#expiry(side, held.t), side, key })
    }
  }

  #list(side: 0 | 1, key: string): Held[] {
    return this.#listAt(`${side}\0${key}`)
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
          if (o.id) this.#store.put(o.id, o)
        }
        this.#emit(key, side === 0 ? r.value : o.v, side === 0 ? o.v : r.value, Math.max(t, o.t))
      }
    }
    const at = side === 0 ? `0\0${key}` : `1\0${key}`
    // One object in memory and in the store (its id is stored too: a few bytes, and no copy).
    const held: Held = { t, v: r.value, m: paired, id: null }
    this.#unwritten.push({ held, side, key, seq: this.#sequence++ })
    this.#listAt(at).push(held)
    this.#index.push({ at: this.#expiry(side, t), side, key })
  }

  /** A commit takes the store's writes: the records that arrived since the last and still wait. */
  #write(): void {
    for (const { held, side, key, seq } of this.#unwritten) {
      if (held.id !== null) continue
      held.id = `${side}\0${key}\0${String(seq).padStart(12, '0')}`
      this.#store.put(held.id, held)
    }
    this.#unwritten = []
  }

  /** The watermark moved: records that can no longer pair leave (unpaired ones are emitted if asked). */
  advance(watermark: number): void {
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
        if (w.id) this.#store.delete(w.id)
        else w.id = ''
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
