import type { Event } from '../model.ts'
import type { Q9Row } from '../queries/q9.ts'
import { winningBids } from './common.ts'

export function q9(events: readonly Event[]): Q9Row[] {
  return [...winningBids(events)].map(([auction, bid]) => ({ auction, bid }))
}
