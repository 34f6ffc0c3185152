/**
 * An incremental aggregation: `add` folds one value into the accumulator; `merge` combines
 * two accumulators (needed by session windows, which merge); `result` turns the accumulator
 * into the emitted value. Accumulators are stored in state, so keep them plain data.
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
    add: (a, v) => ({ n: a.n + 1, sum: a.sum + of(v) }),
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
