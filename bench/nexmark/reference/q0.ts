import type { Event } from '../model.ts'
import type { Q0Row } from '../queries/q0.ts'
import { bids } from './common.ts'

export function q0(events: readonly Event[]): Q0Row[] {
  return bids(events)
}
