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

  constructor(priority: (item: T) => number) {
    this.#priority = priority
  }

  get size(): number {
    return this.#items.length
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    const p = this.#priority(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.#priority(items[parent]!) <= p) break
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
    const p = this.#priority(last)
    for (;;) {
      const l = 2 * i + 1
      if (l >= items.length) break
      const r = l + 1
      const child = r < items.length && this.#priority(items[r]!) < this.#priority(items[l]!) ? r : l
      if (this.#priority(items[child]!) >= p) break
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
