import type { Event } from '../model.ts'
import type { Q1Row } from '../queries/q1.ts'
import { bids } from './common.ts'

export function q1(events: readonly Event[]): Q1Row[] {
  const out: Q1Row[] = []
  for (const b of bids(events)) {
    out.push({
      auction: b.auction,
      bidder: b.bidder,
      price: 0.908 * b.price,
      dateTime: b.dateTime,
      extra: b.extra,
    })
  }
  return out
}
