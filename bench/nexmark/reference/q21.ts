import type { Event } from '../model.ts'
import type { Q21Row } from '../queries/q21.ts'
import { bids } from './common.ts'

// Position = channel id.
const HOT = ['apple', 'google', 'facebook', 'baidu']

/** The url's `channel_id` parameter (at the start or after an `&`), up to the next `&`. */
function channelIdParam(url: string): string | undefined {
  for (let at = url.indexOf('channel_id='); at >= 0; at = url.indexOf('channel_id=', at + 1)) {
    if (at > 0 && url[at - 1] !== '&') continue
    const from = at + 'channel_id='.length
    const end = url.indexOf('&', from)
    return url.slice(from, end < 0 ? url.length : end)
  }
  return undefined
}

export function q21(events: readonly Event[]): Q21Row[] {
  const out: Q21Row[] = []
  for (const b of bids(events)) {
    const hot = HOT.indexOf(b.channel.toLowerCase())
    const channelId = hot >= 0 ? String(hot) : channelIdParam(b.url)
    if (channelId === undefined) continue
    out.push({ auction: b.auction, bidder: b.bidder, price: b.price, channel: b.channel, channelId })
  }
  return out
}
