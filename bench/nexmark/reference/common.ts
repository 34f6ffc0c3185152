/**
 * Helpers of the reference implementations: plain loops over the generated events, written
 * from the query definitions and sharing no code with the Sluice pipelines, so that a
 * mistake in one does not hide in both. End of input counts as the end of event time: every
 * window and every auction has closed.
 */
import type { Auction, Bid, Event, Person } from '../model.ts'

export function persons(events: readonly Event[]): Person[] {
  const out: Person[] = []
  for (const e of events) if ('person' in e) out.push(e.person)
  return out
}

export function auctions(events: readonly Event[]): Auction[] {
  const out: Auction[] = []
  for (const e of events) if ('auction' in e) out.push(e.auction)
  return out
}

export function bids(events: readonly Event[]): Bid[] {
  const out: Bid[] = []
  for (const e of events) if ('bid' in e) out.push(e.bid)
  return out
}

/** Start of the `size`-long window aligned to the epoch that holds t. */
export function windowStart(t: number, size: number): number {
  return t - (((t % size) + size) % size)
}

/** Each auction's winning bid: the best bid made while it was open (see queries/winning-bids.ts for the order). */
export function winningBids(events: readonly Event[]): Map<Auction, Bid> {
  const byAuction = new Map<number, Bid[]>()
  for (const b of bids(events)) {
    const list = byAuction.get(b.auction)
    if (list) list.push(b)
    else byAuction.set(b.auction, [b])
  }
  const winners = new Map<Auction, Bid>()
  for (const a of auctions(events)) {
    let best: Bid | undefined
    for (const b of byAuction.get(a.id) ?? []) {
      if (b.dateTime < a.dateTime || b.dateTime > a.expires) continue
      if (
        best === undefined ||
        b.price > best.price ||
        (b.price === best.price &&
          (b.dateTime < best.dateTime ||
            (b.dateTime === best.dateTime &&
              (b.bidder < best.bidder || (b.bidder === best.bidder && b.extra < best.extra)))))
      ) {
        best = b
      }
    }
    if (best) winners.set(a, best)
  }
  return winners
}

export function groupBy<T>(list: readonly T[], key: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const v of list) {
    const k = key(v)
    const g = groups.get(k)
    if (g) g.push(v)
    else groups.set(k, [v])
  }
  return groups
}

/** Counts of bids, distinct bidders and distinct auctions, in total and per price rank (q15, q16). */
export function bidStats(list: readonly Bid[]) {
  const inRank = [
    list,
    list.filter((b) => b.price < 10_000),
    list.filter((b) => b.price >= 10_000 && b.price < 1_000_000),
    list.filter((b) => b.price >= 1_000_000),
  ]
  const n = (i: number) => inRank[i]!.length
  const bidders = (i: number) => new Set(inRank[i]!.map((b) => b.bidder)).size
  const auctions = (i: number) => new Set(inRank[i]!.map((b) => b.auction)).size
  return {
    totalBids: n(0),
    rank1Bids: n(1),
    rank2Bids: n(2),
    rank3Bids: n(3),
    totalBidders: bidders(0),
    rank1Bidders: bidders(1),
    rank2Bidders: bidders(2),
    rank3Bidders: bidders(3),
    totalAuctions: auctions(0),
    rank1Auctions: auctions(1),
    rank2Auctions: auctions(2),
    rank3Auctions: auctions(3),
  }
}
