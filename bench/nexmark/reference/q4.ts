import type { Event } from '../model.ts'
import type { Q4Row } from '../queries/q4.ts'
import { winningBids } from './common.ts'

/** Per category, the average winning price over every auction that had a valid bid. */
export function q4(events: readonly Event[]): Q4Row[] {
  const sums = new Map<number, { n: number; sum: number }>()
  for (const [a, b] of winningBids(events)) {
    const s = sums.get(a.category) ?? { n: 0, sum: 0 }
    s.n++
    s.sum += b.price
    sums.set(a.category, s)
  }
  return [...sums].map(([category, s]) => ({ category, avg: s.sum / s.n }))
}
