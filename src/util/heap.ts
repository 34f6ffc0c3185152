/**
 * A binary min-heap by a numeric priority. The engine's operators keep "when does this expire"
 * indexes in one: entries arrive roughly — not exactly — in time order (two inputs read at
 * different paces interleave their times), and an insertion-sorted array then degrades to a
 * linear walk and shift per insert (measured: the stream–stream join spent most of its time
 * there on the embedded log, `npm run bench:joins`).
 */
export class MinHeap<T> {
  readonly #items: T[] = []
  readonly #priority: (item: T) => number
  readonly #tiebreak: ((item: T) => number) | null

  /**
   * `tiebreak`: orders items of equal priority (by arrival, say), so that the order they pop
   * in does not depend on the heap's shape — which differs between a heap filled item by item
   * and one rebuilt after a restart.
   */
  constructor(priority: (item: T) => number, tiebreak?: (item: T) => number) {
    this.#priority = priority
    this.#tiebreak = tiebreak ?? null
  }

  get size(): number {
    return this.#items.length
  }

  /** `a` pops before `b`. */
  #less(a: T, b: T): boolean {
    const pa = this.#priority(a)
    const pb = this.#priority(b)
    if (pa !== pb) return pa < pb
    return this.#tiebreak !== null && this.#tiebreak(a) < this.#tiebreak(b)
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(item, items[parent]!)) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = item
  }

  /** The smallest priority, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0]
  }

  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= items.length) break
      const r = l + 1
      const child = r < items.length && this.#less(items[r]!, items[l]!) ? r : l
      if (!this.#less(items[child]!, last)) break
      items[i] = items[child]!
      i = child
    }
    items[i] = last
    return top
  }

  /** Removes and returns every item with priority below (or, `inclusive`, up to) `bound`. */
  popBelow(bound: number, inclusive = false): T[] {
    const out: T[] = []
    for (;;) {
      const top = this.#items[0]
      if (top === undefined) break
      const p = this.#priority(top)
      if (inclusive ? p > bound : p >= bound) break
      out.push(this.pop()!)
    }
    return out
  }
}
