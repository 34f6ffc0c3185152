import type { Bid, Event } from '../model.ts'
import type { Q18Row } from '../queries/q18.ts'
import { bids } from './common.ts'

/** Per bidder and auction, the bid with the latest time (ties: higher price, then larger `extra`). */
export function q18(events: readonly Event[]): Q18Row[] {
  const byPair = new Map<string, Bid[]>()
  for (const b of bids(events)) {
    const key = `${b.bidder}/${b.auction}`
    byPair.set(key, [...(byPair.get(key) ?? []), b])
  }
  return [...byPair.values()].map(
    (list) =>
      list.sort(
        (x, y) =>
          y.dateTime - x.dateTime ||
          y.price - x.price ||
          (y.extra > x.extra ? 1 : y.extra < x.extra ? -1 : 0),
      )[0]!,
  )
}
