import type { Event } from '../model.ts'
import type { Q10Row } from '../queries/q10.ts'
import { bids } from './common.ts'

const two = (n: number) => String(n).padStart(2, '0')

/** Each bid as q10's row, grouped by the partition directory its file belongs in. */
export function q10Partitions(events: readonly Event[]): Map<string, Q10Row[]> {
  const out = new Map<string, Q10Row[]>()
  for (const b of bids(events)) {
    const d = new Date(b.dateTime)
    const dt = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`
    const hm = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`
    const dir = `dt=${dt}/hm=${hm}`
    const row = {
      auction: b.auction,
      bidder: b.bidder,
      price: b.price,
      dateTime: b.dateTime,
      extra: b.extra,
      dt,
      hm,
    }
    const rows = out.get(dir)
    if (rows) rows.push(row)
    else out.set(dir, [row])
  }
  return out
}

/** q10's rows as the pipeline writes them to its output topic (before the files). */
export function q10(events: readonly Event[]): Q10Row[] {
  return [...q10Partitions(events).values()].flat()
}
