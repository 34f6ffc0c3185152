/**
 * Query 9, winning bids: each closed auction with its winning bid (the highest bid made while
 * it was open; ties: the earlier bid). The core of queries 4 and 6, on the full records.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { type Auction, type Bid, isAuction, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'
import { winningBids } from './winning-bids.ts'

export interface Q9Row {
  auction: Auction
  bid: Bid
}

export function q9(ctx: QueryContext): Query<Q9Row> {
  const out = topic<Q9Row>(ctx.output)
  const p = pipeline(ctx.name)
  const events = p.from(ctx.events, { watermark: ctx.watermark })
  winningBids(
    ctx,
    events.filter(isAuction).map((e) => e.auction),
    events.filter(isBid).map((e) => e.bid),
  ).to(out)
  return { pipeline: p, output: out }
}
