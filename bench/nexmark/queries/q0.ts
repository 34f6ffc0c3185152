/**
 * Query 0, pass-through: every bid, unchanged. Measures the cost of reading, decoding,
 * filtering by kind and writing — the floor under every other query.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { type Bid, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export type Q0Row = Bid

export function q0(ctx: QueryContext): Query<Q0Row> {
  const out = topic<Q0Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map((e) => e.bid)
    .to(out)
  return { pipeline: p, output: out }
}
