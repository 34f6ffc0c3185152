/**
 * A seeded random source for the generator: the same seed gives the same shop, the same
 * shoppers and the same events, whatever the delivery rate.
 */
export class Random {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number) {
    // xoshiro128** seeded through splitmix32, so that nearby seeds give unrelated streams.
    let s = seed >>> 0
    const split = () => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = split()
    this.#b = split()
    this.#c = split()
    this.#d = split()
  }

  /** Uniform in [0, 1). */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0
    const t = this.#b << 9
    this.#c ^= this.#a
    this.#d ^= this.#b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= t
    this.#d = rotl(this.#d, 11)
    return result / 4294967296
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next()
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }

  /** Exponentially distributed with the given mean: the gaps of a Poisson process. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** The items in a random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      ;[out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/**
 * Picks indexes in proportion to fixed weights (binary search over the running totals).
 * Popularity in a shop is heavily skewed: with Zipf weights 1/r^s the first products take
 * a large share of the views and the long tail a little each.
 */
export class Weighted {
  readonly #totals: number[]

  constructor(weights: readonly number[]) {
    let total = 0
    this.#totals = weights.map((w) => {
      total += w
      return total
    })
  }

  static zipf(n: number, s: number): Weighted {
    return new Weighted(Array.from({ length: n }, (_, r) => 1 / (r + 1) ** s))
  }

  /** The share of index i. */
  share(i: number): number {
    const totals = this.#totals
    return (totals[i]! - (i === 0 ? 0 : totals[i - 1]!)) / totals[totals.length - 1]!
  }

  sample(random: Random): number {
    const totals = this.#totals
    const target = random.next() * totals[totals.length - 1]!
    let lo = 0
    let hi = totals.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (totals[mid]! <= target) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
