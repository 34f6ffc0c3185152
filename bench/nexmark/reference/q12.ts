import type { Event } from '../model.ts'
import type { Q12Row } from '../queries/q12.ts'
import { bids } from './common.ts'

/**
 * Bids per bidder per 10 s of processing time, for the correctness test's conditions: every
 * event is processed at virtual processing time 0, so each bidder has one window, [0, 10 s).
 */
export function q12(events: readonly Event[]): Q12Row[] {
  const counts = new Map<number, number>()
  for (const b of bids(events)) counts.set(b.bidder, (counts.get(b.bidder) ?? 0) + 1)
  return [...counts].map(([bidder, bidCount]) => ({ bidder, bidCount, starttime: 0, endtime: 10_000 }))
}
