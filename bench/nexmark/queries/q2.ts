/** Query 2, selection: the bids on every 123rd auction (auction id mod 123 = 0). */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q2Row {
  auction: number
  price: number
}

export const AUCTION_SKIP = 123

export function q2(ctx: QueryContext): Query<Q2Row> {
  const out = topic<Q2Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .filter(({ bid }) => bid.auction % AUCTION_SKIP === 0)
    .map(({ bid }) => ({ auction: bid.auction, price: bid.price }))
    .to(out)
  return { pipeline: p, output: out }
}
