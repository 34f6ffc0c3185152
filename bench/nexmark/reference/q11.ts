import type { Event } from '../model.ts'
import type { Q11Row } from '../queries/q11.ts'
import { bids } from './common.ts'

const GAP = 10_000

/** Per bidder, bids no more than 10 s apart form one session [first, last + 10 s). */
export function q11(events: readonly Event[]): Q11Row[] {
  const times = new Map<number, number[]>()
  for (const b of bids(events)) {
    const list = times.get(b.bidder) ?? []
    list.push(b.dateTime)
    times.set(b.bidder, list)
  }
  const out: Q11Row[] = []
  for (const [bidder, list] of times) {
    list.sort((x, y) => x - y)
    let start = list[0]!
    let last = start
    let n = 0
    for (const t of list) {
      if (t - last > GAP) {
        out.push({ bidder, bidCount: n, starttime: start, endtime: last + GAP })
        start = t
        n = 0
      }
      last = t
      n++
    }
    out.push({ bidder, bidCount: n, starttime: start, endtime: last + GAP })
  }
  return out
}
