/** Query 2, selection: the bids on every 123rd auction (auction id mod 123 = 0). */
import { b, binaryCodec, pipeline } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import { outputTopic, type Query, type QueryContext } from './common.ts'

const Q2Schema = b.struct({ auction: b.number(), price: b.number() })
export type Q2Row = b.Infer<typeof Q2Schema>

export const AUCTION_SKIP = 123

export function q2(ctx: QueryContext): Query<Q2Row> {
  const out = outputTopic<Q2Row>(ctx, binaryCodec(Q2Schema))
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .filter(({ bid }) => bid.auction % AUCTION_SKIP === 0)
    .map(({ bid }) => ({ auction: bid.auction, price: bid.price }))
    .to(out)
  return { pipeline: p, output: out }
}
