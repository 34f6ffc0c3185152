/** Query 1, currency conversion: each bid's price from dollars to euros (× 0.908). */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q1Row {
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
}

export const DOLLAR_TO_EURO = 0.908

export function q1(ctx: QueryContext): Query<Q1Row> {
  const out = topic<Q1Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid }) => ({
      auction: bid.auction,
      bidder: bid.bidder,
      price: DOLLAR_TO_EURO * bid.price,
      dateTime: bid.dateTime,
      extra: bid.extra,
    }))
    .to(out)
  return { pipeline: p, output: out }
}
