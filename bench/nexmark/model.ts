/**
 * The Nexmark data model: people register, open auctions and bid on them. Field names follow
 * the reference (nexmark/nexmark's Flink model, itself Beam's), with times as ms since the
 * epoch. One topic carries all three kinds as a tagged union, as the reference's single
 * source does (Flink's `datagen` table with `event_type`): each event is `{ person }`,
 * `{ auction }` or `{ bid }`.
 */

export interface Person {
  readonly id: number
  readonly name: string
  readonly emailAddress: string
  readonly creditCard: string
  readonly city: string
  readonly state: string
  readonly dateTime: number
  readonly extra: string
}

export interface Auction {
  readonly id: number
  readonly itemName: string
  readonly description: string
  readonly initialBid: number
  readonly reserve: number
  readonly dateTime: number
  readonly expires: number
  readonly seller: number
  readonly category: number
  readonly extra: string
}

export interface Bid {
  readonly auction: number
  readonly bidder: number
  /** In cents. */
  readonly price: number
  readonly channel: string
  readonly url: string
  readonly dateTime: number
  readonly extra: string
}

export interface PersonEvent {
  readonly person: Person
}
export interface AuctionEvent {
  readonly auction: Auction
}
export interface BidEvent {
  readonly bid: Bid
}

export type Event = PersonEvent | AuctionEvent | BidEvent

export const isPerson = (e: Event): e is PersonEvent => 'person' in e
export const isAuction = (e: Event): e is AuctionEvent => 'auction' in e
export const isBid = (e: Event): e is BidEvent => 'bid' in e

/** The event time of any event. */
export function eventTime(e: Event): number {
  if ('bid' in e) return e.bid.dateTime
  if ('auction' in e) return e.auction.dateTime
  return e.person.dateTime
}
