import type { Bid, Event } from '../model.ts'
import type { Q7Row } from '../queries/q7.ts'
import { bids, windowStart } from './common.ts'

/** Per 10 s tumbling window, every bid with the window's highest price. */
export function q7(events: readonly Event[]): Q7Row[] {
  const windows = new Map<number, Bid[]>()
  for (const b of bids(events)) {
    const start = windowStart(b.dateTime, 10_000)
    const list = windows.get(start) ?? []
    list.push(b)
    windows.set(start, list)
  }
  const out: Q7Row[] = []
  for (const list of windows.values()) {
    let max = -1
    for (const b of list) if (b.price > max) max = b.price
    for (const b of list) {
      if (b.price === max) {
        out.push({
          auction: b.auction,
          bidder: b.bidder,
          price: b.price,
          dateTime: b.dateTime,
          extra: b.extra,
        })
      }
    }
  }
  return out
}
