import type { Event } from '../model.ts'
import type { Q8Row } from '../queries/q8.ts'
import { auctions, persons, windowStart } from './common.ts'

/** People who registered and opened an auction in the same 10 s tumbling window. */
export function q8(events: readonly Event[]): Q8Row[] {
  const sold = new Set<string>()
  for (const a of auctions(events)) sold.add(`${a.seller}@${windowStart(a.dateTime, 10_000)}`)
  const out: Q8Row[] = []
  for (const p of persons(events)) {
    const start = windowStart(p.dateTime, 10_000)
    if (sold.has(`${p.id}@${start}`)) out.push({ id: p.id, name: p.name, starttime: start })
  }
  return out
}
