import type { Event } from '../model.ts'
import type { Q14Row } from '../queries/q14.ts'
import { bids } from './common.ts'

export function q14(events: readonly Event[]): Q14Row[] {
  const out: Q14Row[] = []
  for (const b of bids(events)) {
    const price = 0.908 * b.price
    if (!(price > 1_000_000 && price < 50_000_000)) continue
    const hour = Math.floor((b.dateTime % 86_400_000) / 3_600_000)
    const bidTimeType =
      hour >= 8 && hour <= 18 ? 'dayTime' : hour <= 6 || hour >= 20 ? 'nightTime' : 'otherTime'
    let cCounts = 0
    for (const ch of b.extra) if (ch === 'c') cCounts++
    out.push({
      auction: b.auction,
      bidder: b.bidder,
      price,
      bidTimeType,
      dateTime: b.dateTime,
      extra: b.extra,
      cCounts,
    })
  }
  return out
}
