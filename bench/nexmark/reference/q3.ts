import type { Event, Person } from '../model.ts'
import type { Q3Row } from '../queries/q3.ts'
import { auctions, persons } from './common.ts'

/** Auctions in category 10 whose seller, registered by then (event time), lives in OR, ID or CA. */
export function q3(events: readonly Event[]): Q3Row[] {
  const byId = new Map<number, Person>()
  for (const p of persons(events)) byId.set(p.id, p)
  const out: Q3Row[] = []
  for (const a of auctions(events)) {
    if (a.category !== 10) continue
    const p = byId.get(a.seller)
    if (!p || p.dateTime > a.dateTime) continue
    if (p.state !== 'OR' && p.state !== 'ID' && p.state !== 'CA') continue
    out.push({ name: p.name, city: p.city, state: p.state, id: a.id })
  }
  return out
}
