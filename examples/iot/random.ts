/**
 * A seeded random source for the IoT generator: the same seed gives the same site, readings
 * and injected cases, whatever the delivery rate.
 */
/** Uniform in [0, 1). */
export type Random = () => number

/** Mulberry32: one 32-bit word of state, fast, and plenty for synthetic data. */
export function seeded(seed: number): Random {
  let state = (seed ^ 0x6d2b79f5) >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  // Nearby seeds start far apart after a few rounds.
  for (let i = 0; i < 8; i++) next()
  return next
}

/** Uniform in [lo, hi). */
export function between(rand: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * rand()
}

/** A standard normal deviate (Box–Muller). */
export function normal(rand: Random): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

export function pick<T>(rand: Random, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!
}
