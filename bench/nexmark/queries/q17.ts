/**
 * Query 17, auction statistics report: per auction and day, the number of bids in total and
 * per price rank (as q15), and the minimum, maximum, average and total price. A running
 * aggregate keyed by auction and day.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import { priceRank, utcDay } from './bid-stats.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q17Row {
  auction: number
  day: string
  totalBids: number
  rank1Bids: number
  rank2Bids: number
  rank3Bids: number
  minPrice: number
  maxPrice: number
  avgPrice: number
  sumPrice: number
}

interface Acc {
  n: [number, number, number, number]
  min: number
  max: number
  sum: number
}

export function q17(ctx: QueryContext): Query<Q17Row> {
  const out = topic<Q17Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid: b }) => ({ auction: b.auction, day: utcDay(b.dateTime), price: b.price }))
    // A composite key: the aggregate's output carries only its key, so it holds both parts.
    .keyBy((b) => JSON.stringify([b.auction, b.day]), { name: 'bids-by-auction-day' })
    .aggregate<Acc>(
      {
        init: () => ({
          n: [0, 0, 0, 0],
          min: Number.POSITIVE_INFINITY,
          max: Number.NEGATIVE_INFINITY,
          sum: 0,
        }),
        add: (acc, b) => {
          acc.n[0]++
          acc.n[priceRank(b.price)]++
          if (b.price < acc.min) acc.min = b.price
          if (b.price > acc.max) acc.max = b.price
          acc.sum += b.price
          return acc
        },
      },
      { name: 'auction-stats' },
    )
    .map(({ key, value: a }): Q17Row => {
      const [auction, day] = JSON.parse(key) as [number, string]
      return {
        auction,
        day,
        totalBids: a.n[0],
        rank1Bids: a.n[1],
        rank2Bids: a.n[2],
        rank3Bids: a.n[3],
        minPrice: a.min,
        maxPrice: a.max,
        avgPrice: a.sum / a.n[0],
        sumPrice: a.sum,
      }
    })
    .to(out)
  return { pipeline: p, output: out }
}
