import type { Bid, Event } from '../model.ts'
import type { Q17Row } from '../queries/q17.ts'
import { bids, groupBy } from './common.ts'

/** Per auction and UTC day: bid counts in total and per price rank, and min, max, average and sum of prices. */
export function q17(events: readonly Event[]): Q17Row[] {
  const groups = groupBy(
    bids(events),
    (b: Bid) => `${b.auction} ${new Date(b.dateTime).toISOString().slice(0, 10)}`,
  )
  return [...groups].map(([group, list]) => {
    const [auction = '', day = ''] = group.split(' ')
    const prices = list.map((b) => b.price)
    const sum = prices.reduce((s, x) => s + x, 0)
    return {
      auction: Number(auction),
      day,
      totalBids: list.length,
      rank1Bids: prices.filter((x) => x < 10_000).length,
      rank2Bids: prices.filter((x) => x >= 10_000 && x < 1_000_000).length,
      rank3Bids: prices.filter((x) => x >= 1_000_000).length,
      minPrice: Math.min(...prices),
      maxPrice: Math.max(...prices),
      avgPrice: sum / list.length,
      sumPrice: sum,
    }
  })
}
