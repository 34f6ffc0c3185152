/**
 * Query 15, bidding statistics report: per day, how many bids, distinct bidders and distinct
 * auctions, in total and per price rank (see bid-stats.ts). A running aggregate per day: the
 * day's row is updated as bids arrive.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import { type BidStats, bidStatistics, utcDay } from './bid-stats.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q15Row extends BidStats {
  day: string
}

export function q15(ctx: QueryContext): Query<Q15Row> {
  const out = topic<Q15Row>(ctx.output)
  const p = pipeline(ctx.name)
  const bids = p
    .from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid: b }) => ({
      group: utcDay(b.dateTime),
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
    }))
  bidStatistics(bids)
    .map(({ key, value: { last: _, ...stats } }): Q15Row => ({ day: key, ...stats }))
    .to(out)
  return { pipeline: p, output: out }
}
