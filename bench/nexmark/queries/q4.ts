/**
 * Query 4, average price per category: the average winning price of the closed auctions in
 * each category, updated as auctions close (a running aggregate per category over the
 * winning bids).
 */
import { avg, pipeline, topic } from '../../../src/index.ts'
import { isAuction, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'
import { winningBids } from './winning-bids.ts'

export interface Q4Row {
  category: number
  avg: number
}

export function q4(ctx: QueryContext): Query<Q4Row> {
  const out = topic<Q4Row>(ctx.output)
  const p = pipeline(ctx.name)
  const events = p.from(ctx.events, { watermark: ctx.watermark })
  const auctions = events
    .filter(isAuction)
    .map(({ auction: a }) => ({ id: a.id, dateTime: a.dateTime, expires: a.expires, category: a.category }))
  const bids = events.filter(isBid).map(({ bid: b }) => ({
    auction: b.auction,
    bidder: b.bidder,
    price: b.price,
    dateTime: b.dateTime,
  }))
  winningBids(ctx, auctions, bids)
    .keyBy((w) => w.auction.category, { name: 'winners-by-category' })
    .aggregate(
      avg((w) => w.bid.price),
      { name: 'average-price' },
    )
    .map((a) => ({ category: Number(a.key), avg: a.value ?? 0 }))
    .to(out)
  return { pipeline: p, output: out }
}
