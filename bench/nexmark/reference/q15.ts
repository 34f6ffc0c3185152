import type { Bid, Event } from '../model.ts'
import type { Q15Row } from '../queries/q15.ts'
import { bidStats, bids, groupBy } from './common.ts'

/** Per UTC day, counts of bids, distinct bidders and distinct auctions, in total and per price rank. */
export function q15(events: readonly Event[]): Q15Row[] {
  const days = groupBy(bids(events), (b: Bid) => new Date(b.dateTime).toISOString().slice(0, 10))
  return [...days].map(([day, list]) => ({ day, ...bidStats(list) }))
}
