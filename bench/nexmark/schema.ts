/**
 * The Nexmark events as a binary schema (`--codec binary`): the same fields as model.ts,
 * numbers as doubles, strings as UTF-8. The types it infers are checked against model.ts's
 * below, so the two cannot drift apart.
 */
import { b, binaryCodec, type Codec } from '../../src/index.ts'
import type { Bid, Event } from './model.ts'

export const PersonSchema = b.struct({
  id: b.number(),
  name: b.string(),
  emailAddress: b.string(),
  creditCard: b.string(),
  city: b.string(),
  state: b.string(),
  dateTime: b.number(),
  extra: b.string(),
})

export const AuctionSchema = b.struct({
  id: b.number(),
  itemName: b.string(),
  description: b.string(),
  initialBid: b.number(),
  reserve: b.number(),
  dateTime: b.number(),
  expires: b.number(),
  seller: b.number(),
  category: b.number(),
  extra: b.string(),
})

export const BidSchema = b.struct({
  auction: b.number(),
  bidder: b.number(),
  price: b.number(),
  channel: b.string(),
  url: b.string(),
  dateTime: b.number(),
  extra: b.string(),
})

export const EventSchema = b.oneOf({ person: PersonSchema, auction: AuctionSchema, bid: BidSchema })

// Compile-time checks: each schema's type is model.ts's, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameEvent: Same<b.Infer<typeof EventSchema>, Event> = true
const sameBid: Same<b.Infer<typeof BidSchema>, Bid> = true
void sameEvent
void sameBid

export const eventCodec: Codec<Event> = binaryCodec(EventSchema)
export const bidCodec: Codec<Bid> = binaryCodec(BidSchema)
