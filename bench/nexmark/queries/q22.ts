/**
 * Query 22, get URL directories: each bid with the first three directories of its url (SQL's
 * `SPLIT_INDEX(url, '/', 3…5)`: parts 3–5 of the url split at '/'; null past the last part).
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q22Row {
  auction: number
  bidder: number
  price: number
  channel: string
  dir1: string | null
  dir2: string | null
  dir3: string | null
}

export function q22(ctx: QueryContext): Query<Q22Row> {
  const out = topic<Q22Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid: b }): Q22Row => {
      const parts = b.url.split('/')
      return {
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        dir1: parts[3] ?? null,
        dir2: parts[4] ?? null,
        dir3: parts[5] ?? null,
      }
    })
    .to(out)
  return { pipeline: p, output: out }
}
