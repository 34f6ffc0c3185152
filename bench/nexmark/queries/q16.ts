/**
 * Query 16, channel statistics report: q15's statistics per channel and day, with the latest
 * minute (`HH:mm`, UTC) of the day that had a bid on the channel. A running aggregate per
 * channel and day.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import { type BidStats, bidStatistics, utcDay } from './bid-stats.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q16Row extends BidStats {
  channel: string
  day: string
  minute: string
}

export function q16(ctx: QueryContext): Query<Q16Row> {
  const out = topic<Q16Row>(ctx.output)
  const p = pipeline(ctx.name)
  const bids = p
    .from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid: b }) => ({
      // A composite group: the aggregate's output carries only its key, so it holds both parts.
      group: JSON.stringify([b.channel, utcDay(b.dateTime)]),
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
    }))
  bidStatistics(bids)
    .map(({ key, value: { last, ...stats } }): Q16Row => {
      const [channel, day] = JSON.parse(key) as [string, string]
      return { channel, day, minute: new Date(last).toISOString().slice(11, 16), ...stats }
    })
    .to(out)
  return { pipeline: p, output: out }
}
