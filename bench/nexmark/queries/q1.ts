/** Query 1, currency conversion: each bid's price from dollars to euros (× 0.908). */
import { b, binaryCodec, pipeline } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import { outputTopic, type Query, type QueryContext } from './common.ts'

const Q1Schema = b.struct({
  auction: b.number(),
  bidder: b.number(),
  price: b.number(),
  dateTime: b.number(),
  extra: b.string(),
})
export type Q1Row = b.Infer<typeof Q1Schema>

export const DOLLAR_TO_EURO = 0.908

export function q1(ctx: QueryContext): Query<Q1Row> {
  const out = outputTopic<Q1Row>(ctx, binaryCodec(Q1Schema))
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
