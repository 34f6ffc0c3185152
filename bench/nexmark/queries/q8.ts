/**
 * Query 8, monitor new users: the people who registered and opened an auction in the same
 * 10-second window. Registrations (keyed by person id) and auctions (keyed by seller) go
 * into one stream keyed by person, so a tumbling window per person sees both; the DSL's
 * stream–stream join pairs records by an interval around each record, not by a shared window.
 */
import { pipeline, topic, tumbling } from '../../../src/index.ts'
import { type AuctionEvent, type Event, isPerson, type PersonEvent } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q8Row {
  id: number
  name: string
  starttime: number
}

export const Q8_SIZE_MS = 10_000

/** A registration (with the person's name) or an auction by that person. */
type Activity = { person: number; name: string } | { person: number; name?: undefined }

interface Seen {
  name: string | null
  auctions: number
}

const personOrAuction = (e: Event): e is PersonEvent | AuctionEvent => !('bid' in e)

export function q8(ctx: QueryContext): Query<Q8Row> {
  const out = topic<Q8Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(personOrAuction)
    .map(
      (e): Activity =>
        isPerson(e) ? { person: e.person.id, name: e.person.name } : { person: e.auction.seller },
    )
    .keyBy((a) => a.person, { name: 'activity-by-person' })
    .window(tumbling({ size: Q8_SIZE_MS }))
    .aggregate<Seen>(
      {
        init: () => ({ name: null, auctions: 0 }),
        add: (acc, a) => {
          if (a.name === undefined) acc.auctions++
          else acc.name = a.name
          return acc
        },
      },
      { name: 'new-sellers' },
    )
    .filter((w) => w.value.name !== null && w.value.auctions > 0)
    .map((w) => ({ id: Number(w.key), name: w.value.name!, starttime: w.start }))
    .to(out)
  return { pipeline: p, output: out }
}
