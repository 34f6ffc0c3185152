/**
 * Query 20, expand bid with auction: every bid on an auction of category 10, with the
 * auction's fields — a regular join in the SQL: a bid meets its auction whichever came first.
 *
 * The DSL's stream–stream joins are interval joins, so bids (keyed by auction) and auctions
 * (keyed by id) meet within the longest distance the generator can put between a bid and its
 * auction: a bid names one of the last 100 auctions or one of the next 10, both within
 * `maxAuctionLengthMs` (the event time of 200 auctions' worth of events). For these events the
 * interval join is the regular join, with state bounded by that interval.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { maxAuctionLengthMs } from '../generator.ts'
import { isAuction, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q20Row {
  auction: number
  bidder: number
  price: number
  channel: string
  url: string
  bidDateTime: number
  bidExtra: string
  itemName: string
  description: string
  initialBid: number
  reserve: number
  auctionDateTime: number
  expires: number
  seller: number
  category: number
  auctionExtra: string
}

export const Q20_CATEGORY = 10

export function q20(ctx: QueryContext): Query<Q20Row> {
  const out = topic<Q20Row>(ctx.output)
  const p = pipeline(ctx.name)
  const events = p.from(ctx.events, { watermark: ctx.watermark })
  const auctions = events
    .filter(isAuction)
    .map((e) => e.auction)
    .filter((a) => a.category === Q20_CATEGORY)
    .keyBy((a) => a.id, { name: 'auctions-by-id' })
  events
    .filter(isBid)
    .map((e) => e.bid)
    .keyBy((b) => b.auction, { name: 'bids-by-auction' })
    .join(
      auctions,
      (b, a): Q20Row => ({
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
      }),
      { name: 'bid-auction', within: maxAuctionLengthMs(ctx.config) },
    )
    .to(out)
  return { pipeline: p, output: out }
}
