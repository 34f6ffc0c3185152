import type { Bid, Event } from '../model.ts'
import type { Q16Row } from '../queries/q16.ts'
import { bidStats, bids, groupBy } from './common.ts'

/** Per channel and UTC day, q15's counts and the greatest `HH:mm` of the group's bids. */
export function q16(events: readonly Event[]): Q16Row[] {
  const groups = groupBy(
    bids(events),
    (b: Bid) => `${b.channel}\n${new Date(b.dateTime).toISOString().slice(0, 10)}`,
  )
  return [...groups].map(([group, list]) => {
    const [channel = '', day = ''] = group.split('\n')
    let minute = ''
    for (const b of list) {
      const m = new Date(b.dateTime).toISOString().slice(11, 16)
      if (m > minute) minute = m
    }
    return { channel, day, minute, ...bidStats(list) }
  })
}
