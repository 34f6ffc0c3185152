import type { Event } from '../model.ts'
import type { Q5Row } from '../queries/q5.ts'
import { bids, windowStart } from './common.ts'

const SIZE = 10_000
const ADVANCE = 2_000

/** Per 10 s window (every 2 s), the auctions with the most bids in it. */
export function q5(events: readonly Event[]): Q5Row[] {
  const counts = new Map<number, Map<number, number>>()
  for (const b of bids(events)) {
    const last = windowStart(b.dateTime, ADVANCE)
    for (let start = last - SIZE + ADVANCE; start <= last; start += ADVANCE) {
      let perAuction = counts.get(start)
      if (!perAuction) {
        perAuction = new Map()
        counts.set(start, perAuction)
      }
      perAuction.set(b.auction, (perAuction.get(b.auction) ?? 0) + 1)
    }
  }
  const out: Q5Row[] = []
  for (const [start, perAuction] of counts) {
    const max = Math.max(...perAuction.values())
    for (const [auction, num] of perAuction) {
      if (num === max) out.push({ auction, num, starttime: start, endtime: start + SIZE })
    }
  }
  return out
}
