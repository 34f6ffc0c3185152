/**
 * Query 14, calculation: bids between €10,000 and €500,000 (in cents, after × 0.908), each with
 * the time of day it was made (day 8–18 h, night ≤ 6 or ≥ 20 h, UTC; else other) and how many
 * times "c" occurs in its `extra` — stateless expressions over every bid.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'
import { DOLLAR_TO_EURO } from './q1.ts'

export interface Q14Row {
  auction: number
  bidder: number
  price: number
  bidTimeType: 'dayTime' | 'nightTime' | 'otherTime'
  dateTime: number
  extra: string
  cCounts: number
}

function timeOfDay(ms: number): Q14Row['bidTimeType'] {
  const hour = new Date(ms).getUTCHours()
  if (hour >= 8 && hour <= 18) return 'dayTime'
  if (hour <= 6 || hour >= 20) return 'nightTime'
  return 'otherTime'
}

function countChar(text: string, c: string): number {
  let n = 0
  for (let i = text.indexOf(c); i >= 0; i = text.indexOf(c, i + 1)) n++
  return n
}

export function q14(ctx: QueryContext): Query<Q14Row> {
  const out = topic<Q14Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map((e) => e.bid)
    .filter((b) => DOLLAR_TO_EURO * b.price > 1_000_000 && DOLLAR_TO_EURO * b.price < 50_000_000)
    .map((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: DOLLAR_TO_EURO * b.price,
      bidTimeType: timeOfDay(b.dateTime),
      dateTime: b.dateTime,
      extra: b.extra,
      cCounts: countChar(b.extra, 'c'),
    }))
    .to(out)
  return { pipeline: p, output: out }
}
