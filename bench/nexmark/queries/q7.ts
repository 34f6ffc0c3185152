/**
 * Query 7, highest bid: the highest bid of every 10-second window — every bid with the
 * window's highest price. A window over all bids has no key: every bid is re-keyed to one
 * key, so one task sees them all (the DSL has no non-keyed window).
 */
import { type Aggregator, pipeline, topic, tumbling } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q7Row {
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
}

export const Q7_SIZE_MS = 10_000

interface Highest {
  price: number
  bids: Q7Row[]
}

const highest: Aggregator<Q7Row, Highest> = {
  init: () => ({ price: -1, bids: [] }),
  add: (acc, b) => {
    if (b.price > acc.price) {
      acc.price = b.price
      acc.bids = [b]
    } else if (b.price === acc.price) {
      acc.bids.push(b)
    }
    return acc
  },
}

export function q7(ctx: QueryContext): Query<Q7Row> {
  const out = topic<Q7Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    // The fields the result shows, and no more, cross the repartition topic.
    .map(
      ({ bid: b }): Q7Row => ({
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        dateTime: b.dateTime,
        extra: b.extra,
      }),
    )
    .keyBy(() => 'all', { name: 'all-bids' })
    .window(tumbling({ size: Q7_SIZE_MS }))
    .aggregate(highest, { name: 'highest-bid' })
    .flatMap((w) => w.value.bids)
    .to(out)
  return { pipeline: p, output: out }
}
