/**
 * Latency histograms as the server sends them (src/runtime/metrics/histogram.ts: values in µs,
 * exact below 16 µs, then 16 sub-buckets per power of two), summed over tasks and differenced
 * between two polls: the distribution of the last second, not of everything since start.
 */
import type { HistogramData, TaskMetrics } from './types.ts'

const SUB = 16
const SUB_BITS = 4

/** The highest value (µs) a bucket holds: the same formula as the server's. */
export function bucketUpperUs(index: number): number {
  if (index < SUB) return index
  const i = index - SUB
  const e = Math.floor(i / SUB) + SUB_BITS
  const sub = (i % SUB) + SUB
  return (sub + 1) * 2 ** (e - SUB_BITS) - 1
}

/** Bucket index → count. */
export type Buckets = Map<number, number>

export function merged(tasks: readonly TaskMetrics[], which: 'latency' | 'eventLatency'): Buckets {
  const out: Buckets = new Map()
  for (const t of tasks) add(out, t[which])
  return out
}

function add(into: Buckets, data: HistogramData): void {
  for (const [i, c] of data.buckets) into.set(i, (into.get(i) ?? 0) + c)
}

/** What was recorded between `before` and `now`; undefined when a counter went down (a restart). */
export function difference(now: Buckets, before: Buckets | undefined): Buckets | undefined {
  if (!before) return undefined
  const out: Buckets = new Map()
  for (const [i, c] of now) {
    const d = c - (before.get(i) ?? 0)
    if (d < 0) return undefined
    if (d > 0) out.set(i, d)
  }
  for (const i of before.keys()) if (!now.has(i)) return undefined
  return out
}

export function total(b: Buckets): number {
  let n = 0
  for (const c of b.values()) n += c
  return n
}

/** The value (ms) at or below which a fraction q of the values lie; null when empty. */
export function percentile(b: Buckets, q: number): number | null {
  const n = total(b)
  if (n === 0) return null
  const rank = Math.max(1, Math.ceil(q * n))
  let seen = 0
  for (const i of [...b.keys()].sort((x, y) => x - y)) {
    seen += b.get(i)!
    if (seen >= rank) return bucketUpperUs(i) / 1000
  }
  return null
}

export function sum(list: readonly Buckets[]): Buckets {
  const out: Buckets = new Map()
  for (const b of list) for (const [i, c] of b) out.set(i, (out.get(i) ?? 0) + c)
  return out
}
