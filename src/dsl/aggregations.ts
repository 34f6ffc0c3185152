/**
 * An incremental aggregation: `add` folds one value into the accumulator; `merge` combines
 * two accumulators (needed by session windows, which merge); `result` turns the accumulator
 * into the emitted value. Accumulators are stored in state, so keep them plain data.
 *
 * `add` and `merge` may return a new accumulator or change `acc` in place and return it:
 * the engine snapshots state when it hands it to a commit, so an accumulator changed after
 * that never leaks into the committed state.
 */
export interface Aggregator<T, A, R = A> {
  init(): A
  add(acc: A, value: T): A
  merge?(a: A, b: A): A
  result?(acc: A): R
}

/** Number of records. */
export function count<T = unknown>(): Aggregator<T, number> {
  return { init: () => 0, add: (n) => n + 1, merge: (a, b) => a + b }
}

/** Sum of a numeric field. */
export function sum<T>(of: (value: T) => number): Aggregator<T, number> {
  return { init: () => 0, add: (s, v) => s + of(v), merge: (a, b) => a + b }
}

/** Smallest value (null for an empty window). */
export function min<T>(of: (value: T) => number): Aggregator<T, number | null> {
  return {
    init: () => null,
    add: (m, v) => (m === null ? of(v) : Math.min(m, of(v))),
    merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
  }
}

/** Largest value (null for an empty window). */
export function max<T>(of: (value: T) => number): Aggregator<T, number | null> {
  return {
    init: () => null,
    add: (m, v) => (m === null ? of(v) : Math.max(m, of(v))),
    merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
  }
}

/** Arithmetic mean (null for an empty window). */
export function avg<T>(of: (value: T) => number): Aggregator<T, { n: number; sum: number }, number | null> {
  return {
    init: () => ({ n: 0, sum: 0 }),
    // In place: the engine copies state when it takes it for a commit (see the note above).
    add: (a, v) => {
      a.n++
      a.sum += of(v)
      return a
    },
    merge: (a, b) => ({ n: a.n + b.n, sum: a.sum + b.sum }),
    result: (a) => (a.n === 0 ? null : a.sum / a.n),
  }
}

/** Exact number of distinct values (keeps the set in state: for modest cardinalities). */
export function distinctCount<T>(
  of: (value: T) => string | number,
): Aggregator<T, Array<string | number>, number> {
  return {
    init: () => [],
    add: (set, v) => {
      const x = of(v)
      return set.includes(x) ? set : [...set, x]
    },
    merge: (a, b) => [...new Set([...a, ...b])],
    result: (set) => set.length,
  }
}

/**
 * The `n` values ranking highest by `by` (lowest with `order: 'asc'`), best first. Ties keep
 * the value that arrived first. Keeps at most n values in state.
 * @example .window(tumbling({ size: '1m' })).aggregate(topN(3, { by: (b) => b.price }), { name: 'top-bids' })
 */
export function topN<T>(
  n: number,
  options: { by: (value: T) => number; order?: 'desc' | 'asc' },
): Aggregator<T, T[]> {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`topN needs a whole number n ≥ 1, got ${n}`)
  const { by } = options
  const sign = options.order === 'asc' ? -1 : 1
  // a ranks before b: higher (or, ascending, lower) score; equal scores keep arrival order.
  const insert = (list: T[], v: T) => {
    const score = sign * by(v)
    let i = list.length
    while (i > 0 && sign * by(list[i - 1]!) < score) i--
    if (i >= n) return list
    list.splice(i, 0, v)
    if (list.length > n) list.length = n
    return list
  }
  return {
    init: () => [],
    add: (list, v) => insert(list, v),
    merge: (a, b) => {
      const out = [...a]
      for (const v of b) insert(out, v)
      return out
    },
  }
}
