import type { Auction, Event } from '../model.ts'
import type { Q6Row } from '../queries/q6.ts'
import { winningBids } from './common.ts'

/** Per seller, the average winning price of their 10 latest-closing auctions (by expiry, then id). */
export function q6(events: readonly Event[]): Q6Row[] {
  const bySeller = new Map<number, Array<{ a: Auction; price: number }>>()
  for (const [a, b] of winningBids(events)) {
    const list = bySeller.get(a.seller) ?? []
    list.push({ a, price: b.price })
    bySeller.set(a.seller, list)
  }
  const out: Q6Row[] = []
  for (const [seller, list] of bySeller) {
    list.sort((x, y) => x.a.expires - y.a.expires || x.a.id - y.a.id)
    const last = list.slice(-10)
    let sum = 0
    for (const x of last) sum += x.price
    out.push({ seller, avgPrice: sum / last.length })
  }
  return out
}
