/**
 * Query 19, auction top-10 price: each auction's ten highest bids (SQL's `ROW_NUMBER() OVER
 * (PARTITION BY auction ORDER BY price DESC) <= 10`). A running aggregate per auction whose
 * row is the current top ten, ranked.
 *
 * The DSL's `topN` breaks ties on price by arrival order, which differs between runs with
 * different partitioning or disorder; here ties go to the earlier bid, then the lower bidder
 * id, then the smaller `extra`, so the result is a function of the bids alone.
 */
import { type Aggregator, pipeline, topic } from '../../../src/index.ts'
import { type Bid, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q19Bid extends Bid {
  rankNumber: number
}

export interface Q19Row {
  auction: number
  bids: Q19Bid[]
}

export const Q19_TOP = 10

function ranksBefore(b: Bid, a: Bid): boolean {
  if (b.price !== a.price) return b.price > a.price
  if (b.dateTime !== a.dateTime) return b.dateTime < a.dateTime
  if (b.bidder !== a.bidder) return b.bidder < a.bidder
  return b.extra < a.extra
}

const topBids: Aggregator<Bid, Bid[], Q19Bid[]> = {
  init: () => [],
  add: (top, b) => {
    let i = top.length
    while (i > 0 && ranksBefore(b, top[i - 1]!)) i--
    if (i < Q19_TOP) {
      top.splice(i, 0, b)
      if (top.length > Q19_TOP) top.length = Q19_TOP
    }
    return top
  },
  result: (top) => top.map((b, i) => ({ ...b, rankNumber: i + 1 })),
}

export function q19(ctx: QueryContext): Query<Q19Row> {
  const out = topic<Q19Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map((e) => e.bid)
    .keyBy((b) => b.auction, { name: 'bids-by-auction' })
    .aggregate(topBids, { name: 'top-bids' })
    .map((k): Q19Row => ({ auction: Number(k.key), bids: k.value }))
    .to(out)
  return { pipeline: p, output: out }
}
