/**
 * Stream–stream joins inside a task: records of two co-partitioned streams with the same key
 * pair up when their event times are close — left at l, right at r, when
 * l − before ≤ r ≤ l + after (`within: d` is before = after = d).
 *
 * Each side's records wait in the join's store (`0\0<key>` left, `1\0<key>` right → records
 * by arrival), and every arrival is paired at once with the other side's waiting records, so
 * the set of pairs does not depend on which side is read first; a pair carries the later of
 * its two times.
 *
 * A waiting record leaves when no record that could still arrive on time can pair with it.
 * Records behind W − lateness (W: the task watermark) are late and dropped, so a left record
 * is done once W − lateness > l + after, a right one once W − lateness > r + before. An
 * in-memory index of those expiry times (rebuilt from the store on start) finds them when W
 * moves; left joins then emit each left record that never paired, outer joins the unpaired
 * records of both sides — once, when their window has closed, so the result is final.
 */
import type { StreamJoinNode } from '../dsl/nodes.ts'
import type { Push } from './chain.ts'
import { OperatorError, type StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'

interface Waiting {
  t: number
  v: unknown
  /** Paired at least once (only tracked where unpaired records are emitted). */
  m: boolean
}

interface Expiry {
  at: number
  side: 0 | 1
  key: string
}

export class StreamJoinOperator {
  readonly #name: string
  readonly #op: StreamJoinNode
  readonly #store: KeyValueStore<Waiting[]>
  readonly #next: Push
  readonly #index: Expiry[] = []
  /** Records dropped for arriving behind the watermark − lateness. */
  lateRecords = 0

  constructor(name: string, op: StreamJoinNode, store: KeyValueStore<Waiting[]>, next: Push) {
    this.#name = name
    this.#op = op
    this.#store = store
    this.#next = next
    for (const [id, list] of store.entries()) {
      const side = id.charCodeAt(0) === 48 ? 0 : 1
      const key = id.slice(2)
      for (const w of list) this.#index.push({ at: this.#expiry(side, w.t), side, key })
    }
    this.#index.sort((a, b) => a.at - b.at)
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
      this.lateRecords++
      return
    }
    const { before, after, type } = this.#op
    const trackOther = type === 'outer' || (type === 'left' && side === 1)
    const otherId = `${side === 0 ? 1 : 0}\0${key}`
    const others = this.#store.get(otherId)
    let paired = false
    if (others) {
      // Left at l pairs right at r when l − before ≤ r ≤ l + after.
      const lo = side === 0 ? t - before : t - after
      const hi = side === 0 ? t + after : t + before
      let marked = false
      for (const o of others) {
        if (o.t < lo || o.t > hi) continue
        paired = true
        if (trackOther && !o.m) {
          o.m = true
          marked = true
        }
        this.#emit(key, side === 0 ? r.value : o.v, side === 0 ? o.v : r.value, Math.max(t, o.t))
      }
      // The other side's records now count as paired (they are emitted unpaired otherwise).
      if (marked) this.#store.put(otherId, others)
    }
    const id = `${side}\0${key}`
    const list = this.#store.get(id) ?? []
    list.push({ t, v: r.value, m: paired })
    this.#store.put(id, list)
    const e: Expiry = { at: this.#expiry(side, t), side, key }
    let i = this.#index.length
    while (i > 0 && this.#index[i - 1]!.at > e.at) i--
    this.#index.splice(i, 0, e)
  }

  /** The watermark moved: records that can no longer pair leave (unpaired ones are emitted if asked). */
  advance(watermark: number): void {
    let n = 0
    while (n < this.#index.length && this.#index[n]!.at < watermark) n++
    if (n === 0) return
    const due = this.#index.splice(0, n)
    const done = new Set<string>()
    for (const { side, key } of due) {
      const id = `${side}\0${key}`
      if (done.has(id)) continue
      done.add(id)
      const list = this.#store.get(id)
      if (!list) continue
      const keep: Waiting[] = []
      for (const w of list) {
        if (this.#expiry(side, w.t) >= watermark) {
          keep.push(w)
          continue
        }
        if (w.m) continue
        const { type } = this.#op
        if (side === 0 && type !== 'inner') this.#emit(key, w.v, undefined, w.t)
        if (side === 1 && type === 'outer') this.#emit(key, undefined, w.v, w.t)
      }
      if (keep.length === 0) this.#store.delete(id)
      else if (keep.length !== list.length) this.#store.put(id, keep)
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
    return this.#index.length
  }
}
