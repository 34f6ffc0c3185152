/**
 * Query 0, pass-through: every bid, unchanged. Measures the cost of reading, decoding,
 * filtering by kind and writing — the floor under every other query.
 */
import { pipeline } from '../../../src/index.ts'
import { type Bid, isBid } from '../model.ts'
import { bidCodec } from '../schema.ts'
import { outputTopic, type Query, type QueryContext } from './common.ts'

export type Q0Row = Bid

export function q0(ctx: QueryContext): Query<Q0Row> {
  const out = outputTopic<Q0Row>(ctx, bidCodec)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map((e) => e.bid)
    .to(out)
  return { pipeline: p, output: out }
}
