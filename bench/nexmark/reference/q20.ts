import type { Auction, Event } from '../model.ts'
import type { Q20Row } from '../queries/q20.ts'
import { auctions, bids } from './common.ts'

/** Every bid on a category-10 auction with the auction's fields. */
export function q20(events: readonly Event[]): Q20Row[] {
  const byId = new Map<number, Auction>()
  for (const a of auctions(events)) if (a.category === 10) byId.set(a.id, a)
  const out: Q20Row[] = []
  for (const b of bids(events)) {
    const a = byId.get(b.auction)
    if (a === undefined) continue
    out.push({
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      channel: b.channel,
      url: b.url,
      bidDateTime: b.dateTime,
      bidExtra: b.extra,
      itemName: a.itemName,
      description: a.description,
      initialBid: a.initialBid,
      reserve: a.reserve,
      auctionDateTime: a.dateTime,
      expires: a.expires,
      seller: a.seller,
      category: a.category,
      auctionExtra: a.extra,
    })
  }
  return out
}
