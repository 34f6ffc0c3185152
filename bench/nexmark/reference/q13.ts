import { readFileSync } from 'node:fs'
import type { Event } from '../model.ts'
import type { Q13Row } from '../queries/q13.ts'
import { bids } from './common.ts'

/** Every bid with the side input's value for auction mod 10,000 (rows of side-input.csv). */
export function q13(events: readonly Event[]): Q13Row[] {
  const rows = readFileSync(new URL('../side-input.csv', import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(','))
  const out: Q13Row[] = []
  for (const b of bids(events)) {
    const row = rows.find(([key]) => Number(key) === b.auction % 10_000)
    if (row)
      out.push({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, value: row[1]! })
  }
  return out
}
