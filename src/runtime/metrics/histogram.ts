/**
 * A log-linear histogram of durations (the HDR idea, small enough to write out): values in
 * microseconds, exact below 16 µs, then 16 sub-buckets per power of two — every value is
 * placed within 1/16 (6.25%) of itself, from 1 µs to about 4 years (event-time latency of replayed old data is years), in 704 counters. Recording
 * is a shift and an increment, cheap enough for every record; histograms merge by adding
 * counters, so a task's, a thread's and a pipeline's histograms combine exactly.
 */

const SUB = 16
const SUB_BITS = 4
/** The top power of two with buckets of its own: 2^46 µs ≈ 2.2 years (its buckets reach 2^47 µs ≈ 4.5 years). */
const MAX_EXPONENT = 46
export const BUCKETS = SUB + (MAX_EXPONENT - SUB_BITS + 1) * SUB

/** Bucket of a value in µs (non-negative integer). */
function bucketOf(us: number): number {
  if (us < 0x8000_0000) {
    // Below 2^31 µs (36 min), in int32 arithmetic: the top bit's position and the next 4 bits.
    const u = us | 0
    if (u < SUB) return u
    const e = 31 - Math.clz32(u)
    return SUB + (e - SUB_BITS) * SUB + ((u >>> (e - SUB_BITS)) - SUB)
  }
  // Longer: a value 2^16 times smaller has the same top bits 16 powers of two lower, so its
  // bucket is 16 × SUB lower. Values past 2^47 µs share the last bucket. (Math.log2 here, for
  // old event times, cost more than the rest of the metrics together.)
  if (us < 2 ** 47) return bucketOf(Math.floor(us / 65_536)) + 16 * SUB
  return BUCKETS - 1
}

/** The highest value (µs) a bucket holds. */
export function bucketUpperUs(index: number): number {
  if (index < SUB) return index
  const i = index - SUB
  const e = Math.floor(i / SUB) + SUB_BITS
  const sub = (i % SUB) + SUB
  return (sub + 1) * 2 ** (e - SUB_BITS) - 1
}

export interface HistogramData {
  /** [bucket, count] pairs of the non-empty buckets. */
  buckets: Array<[number, number]>
  count: number
  /** Sum of the values, ms. */
  sumMs: number
  maxMs: number
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS)
  count = 0
  sumMs = 0
  maxMs = 0

  /** Records a duration in ms (negative durations — clock skew — count as 0). */
  record(ms: number): void {
    const v = Math.max(ms, 0)
    this.counts[bucketOf(Math.floor(v * 1000 + 0.5))]!++
    this.count++
    this.sumMs += v
    if (v > this.maxMs) this.maxMs = v
  }

  /** Records the same duration `n` times. */
  recordMany(ms: number, n: number): void {
    const v = Math.max(ms, 0)
    this.counts[bucketOf(Math.floor(v * 1000 + 0.5))]! += n
    this.count += n
    this.sumMs += v * n
    if (v > this.maxMs) this.maxMs = v
  }

  /** The value (ms) at or below which a fraction `q` of the values lie (upper bucket bound). */
  percentile(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return Math.min(bucketUpperUs(i) / 1000, this.maxMs)
    }
    return this.maxMs
  }

  /** How many values are ≤ `ms` (bucket resolution). */
  countAtOrBelow(ms: number): number {
    const limit = bucketOf(Math.round(ms * 1000))
    let n = 0
    for (let i = 0; i <= limit; i++) n += this.counts[i]!
    return n
  }

  add(other: Histogram | HistogramData): void {
    if (other instanceof Histogram) {
      for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!
    } else {
      for (const [i, c] of other.buckets) this.counts[i]! += c
    }
    this.count += other.count
    this.sumMs += other.sumMs
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs
  }

  data(): HistogramData {
    const buckets: Array<[number, number]> = []
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!])
    return { buckets, count: this.count, sumMs: this.sumMs, maxMs: this.maxMs }
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram()
    h.add(data)
    return h
  }

  reset(): void {
    this.counts.fill(0)
    this.count = 0
    this.sumMs = 0
    this.maxMs = 0
  }
}
