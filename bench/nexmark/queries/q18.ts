/**
 * Query 18, find last bid: each bidder's latest bid on each auction (SQL's `ROW_NUMBER() OVER
 * (PARTITION BY bidder, auction ORDER BY dateTime DESC) = 1`). A running aggregate keyed by
 * bidder and auction that keeps the latest bid by event time, so a bid arriving out of order
 * does not displace a later one; ties on time go to the higher price, then the larger `extra`,
 * so the result does not depend on arrival order.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { type Bid, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export type Q18Row = Bid

function later(b: Bid, a: Bid): boolean {
  if (b.dateTime !== a.dateTime) return b.dateTime > a.dateTime
  if (b.price !== a.price) return b.price > a.price
  return b.extra > a.extra
}

export function q18(ctx: QueryContext): Query<Q18Row> {
  const out = topic<Q18Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map((e) => e.bid)
    .keyBy((b) => `${b.bidder}/${b.auction}`, { name: 'bids-by-bidder-auction' })
    .aggregate<Bid | null, Bid>(
      {
        init: () => null,
        add: (last, b) => (last === null || later(b, last) ? b : last),
        // add() ran at least once before a result is taken.
        result: (last) => last!,
      },
      { name: 'last-bid' },
    )
    .map((k) => k.value)
    .to(out)
  return { pipeline: p, output: out }
}
