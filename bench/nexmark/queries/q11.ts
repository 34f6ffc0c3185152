/**
 * Query 11, user sessions: how many bids each bidder made per session, a session ending after
 * 10 seconds without a bid (session windows per bidder).
 */
import { count, pipeline, session, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q11Row {
  bidder: number
  bidCount: number
  starttime: number
  endtime: number
}

export const Q11_GAP_MS = 10_000

export function q11(ctx: QueryContext): Query<Q11Row> {
  const out = topic<Q11Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid }) => ({ bidder: bid.bidder }))
    .keyBy((b) => b.bidder, { name: 'bids-by-bidder' })
    .window(session({ gap: Q11_GAP_MS }))
    .aggregate(count(), { name: 'bids-per-session' })
    .map((w) => ({ bidder: Number(w.key), bidCount: w.value, starttime: w.start, endtime: w.end }))
    .to(out)
  return { pipeline: p, output: out }
}
