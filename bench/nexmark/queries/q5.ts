/**
 * Query 5, hot items: which auctions had the most bids in the last 10 seconds, every 2
 * seconds. Bids are counted per auction in hopping windows; the counts of each window are then
 * grouped by the window (re-keyed by its start, collected in the 2 s tumbling window its
 * results fall into) and the auctions with the highest count kept — all of them on a tie.
 */
import { count, hopping, pipeline, topic, tumbling, type Windowed } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q5Row {
  auction: number
  num: number
  starttime: number
  endtime: number
}

export const Q5_SIZE_MS = 10_000
export const Q5_ADVANCE_MS = 2_000

interface Hottest {
  num: number
  auctions: number[]
}

export function q5(ctx: QueryContext): Query<Q5Row> {
  const out = topic<Q5Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    // Only the auction id crosses the repartition topic: counting needs nothing else.
    .map(({ bid }) => ({ auction: bid.auction }))
    .keyBy((b) => b.auction, { name: 'bids-by-auction' })
    .window(hopping({ size: Q5_SIZE_MS, advance: Q5_ADVANCE_MS }))
    .aggregate(count(), { name: 'bids-per-auction' })
    .keyBy((w) => w.start, { name: 'counts-by-window' })
    .window(tumbling({ size: Q5_ADVANCE_MS }))
    .aggregate<Hottest>(
      {
        init: () => ({ num: 0, auctions: [] }),
        add: (acc, w: Windowed<number>) => {
          if (w.value > acc.num) {
            acc.num = w.value
            acc.auctions = [Number(w.key)]
          } else if (w.value === acc.num) {
            acc.auctions.push(Number(w.key))
          }
          return acc
        },
      },
      { name: 'hottest' },
    )
    .flatMap((w) =>
      w.value.auctions.map((auction) => ({
        auction,
        num: w.value.num,
        starttime: Number(w.key),
        endtime: Number(w.key) + Q5_SIZE_MS,
      })),
    )
    .to(out)
  return { pipeline: p, output: out }
}
