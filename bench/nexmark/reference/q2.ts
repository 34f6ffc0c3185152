import type { Event } from '../model.ts'
import type { Q2Row } from '../queries/q2.ts'
import { bids } from './common.ts'

export function q2(events: readonly Event[]): Q2Row[] {
  const out: Q2Row[] = []
  for (const b of bids(events)) if (b.auction % 123 === 0) out.push({ auction: b.auction, price: b.price })
  return out
}
