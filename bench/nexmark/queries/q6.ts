/**
 * Query 6, average selling price by seller: the average winning price of each seller's last
 * 10 closed auctions, updated as auctions close. "Last" is by closing time (then auction
 * id), so the result does not depend on the order in which auctions closing at the same
 * instant arrive.
 */
import { type Aggregator, pipeline, topic } from '../../../src/index.ts'
import { isAuction, isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'
import { type BidCore, type Winner, winningBids } from './winning-bids.ts'

export interface Q6Row {
  seller: number
  avgPrice: number
}

export const Q6_AUCTIONS = 10

interface Closed {
  expires: number
  id: number
  price: number
}

type SellerWinner = Winner<{ id: number; dateTime: number; expires: number; seller: number }, BidCore>

/** The 10 latest closed auctions, oldest first; the result is their average price. */
const lastClosed: Aggregator<SellerWinner, Closed[], number> = {
  init: () => [],
  add: (list, w) => {
    const c = { expires: w.auction.expires, id: w.auction.id, price: w.bid.price }
    let i = list.length
    while (
      i > 0 &&
      (list[i - 1]!.expires > c.expires || (list[i - 1]!.expires === c.expires && list[i - 1]!.id > c.id))
    )
      i--
    list.splice(i, 0, c)
    if (list.length > Q6_AUCTIONS) list.shift()
    return list
  },
  result: (list) => list.reduce((s, c) => s + c.price, 0) / list.length,
}

export function q6(ctx: QueryContext): Query<Q6Row> {
  const out = topic<Q6Row>(ctx.output)
  const p = pipeline(ctx.name)
  const events = p.from(ctx.events, { watermark: ctx.watermark })
  const auctions = events
    .filter(isAuction)
    .map(({ auction: a }) => ({ id: a.id, dateTime: a.dateTime, expires: a.expires, seller: a.seller }))
  const bids = events
    .filter(isBid)
    .map(({ bid: b }) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime }))
  winningBids(ctx, auctions, bids)
    .keyBy((w) => w.auction.seller, { name: 'winners-by-seller' })
    .aggregate(lastClosed, { name: 'last-closed' })
    .map((a) => ({ seller: Number(a.key), avgPrice: a.value }))
    .to(out)
  return { pipeline: p, output: out }
}
