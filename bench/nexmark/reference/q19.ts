import type { Bid, Event } from '../model.ts'
import type { Q19Row } from '../queries/q19.ts'
import { bids, groupBy } from './common.ts'

/** Per auction, its 10 best bids: highest price, then earliest, lowest bidder, smallest `extra`. */
export function q19(events: readonly Event[]): Q19Row[] {
  const byAuction = groupBy(bids(events), (b: Bid) => String(b.auction))
  return [...byAuction].map(([auction, list]) => ({
    auction: Number(auction),
    bids: [...list]
      .sort(
        (x, y) =>
          y.price - x.price ||
          x.dateTime - y.dateTime ||
          x.bidder - y.bidder ||
          (x.extra < y.extra ? -1 : x.extra > y.extra ? 1 : 0),
      )
      .slice(0, 10)
      .map((b, i) => ({ ...b, rankNumber: i + 1 })),
  }))
}
