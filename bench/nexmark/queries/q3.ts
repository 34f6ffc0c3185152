/**
 * Query 3, local item suggestion: who sells in category 10 from Oregon, Idaho or California,
 * and which auctions. Sellers become a table (persons keyed by id) that the auctions, re-keyed
 * by seller, join: each auction meets its seller as registered at the auction's event time.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isAuction, isPerson } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q3Row {
  name: string
  city: string
  state: string
  id: number
}

export const Q3_CATEGORY = 10
export const Q3_STATES: ReadonlySet<string> = new Set(['OR', 'ID', 'CA'])

export function q3(ctx: QueryContext): Query<Q3Row> {
  const out = topic<Q3Row>(ctx.output)
  const p = pipeline(ctx.name)
  const events = p.from(ctx.events, { watermark: ctx.watermark })
  const sellers = events
    .filter(isPerson)
    .filter(({ person }) => Q3_STATES.has(person.state))
    .map(({ person }) => ({ id: person.id, name: person.name, city: person.city, state: person.state }))
    .keyBy((person) => person.id, { name: 'persons-by-id' })
    .toTable({ name: 'sellers' })
  events
    .filter(isAuction)
    .filter(({ auction }) => auction.category === Q3_CATEGORY)
    .map(({ auction }) => ({ id: auction.id, seller: auction.seller }))
    .keyBy((auction) => auction.seller, { name: 'auctions-by-seller' })
    .join(
      sellers,
      (auction, seller) => ({ name: seller.name, city: seller.city, state: seller.state, id: auction.id }),
      {
        name: 'local-items',
      },
    )
    .to(out)
  return { pipeline: p, output: out }
}
