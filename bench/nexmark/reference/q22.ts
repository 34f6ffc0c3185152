import type { Event } from '../model.ts'
import type { Q22Row } from '../queries/q22.ts'
import { bids } from './common.ts'

/** Every bid with the url's 4th, 5th and 6th '/'-separated parts (0-based 3–5), null if missing. */
export function q22(events: readonly Event[]): Q22Row[] {
  return bids(events).map((b) => {
    // Scans for '/' by hand rather than split(), so a slip in one is not repeated in the other.
    const parts: string[] = []
    let from = 0
    for (let i = 0; i <= b.url.length; i++) {
      if (i === b.url.length || b.url[i] === '/') {
        parts.push(b.url.slice(from, i))
        from = i + 1
      }
    }
    const at = (i: number) => (i < parts.length ? parts[i]! : null)
    return {
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      channel: b.channel,
      dir1: at(3),
      dir2: at(4),
      dir3: at(5),
    }
  })
}
