/**
 * The winning bid of each auction, shared by queries 4, 6 and 9: the highest bid made while
 * the auction was open (its dateTime ≤ the bid's ≤ its expires; ties: the earlier bid, then
 * the lower bidder id, then `extra`), emitted once the auction has closed in event time.
 *
 * Auctions and bids, each keyed by auction id, meet in a stream–stream join whose window is
 * the longest an auction can last (the generator's bound); a bid after its auction's expiry
 * is filtered out after the join. Per auction, a `process()` step keeps the best bid so far
 * and an event-time timer just past the expiry emits it: the DSL's windows all have a fixed
 * size (or a session gap), and an auction's window is its own [dateTime, expires].
 */
import type { Stream } from '../../../src/index.ts'
import { maxAuctionLengthMs } from '../generator.ts'
import type { QueryContext } from './common.ts'

/** What the winning-bid core needs of an auction and a bid; queries project to these or more. */
export interface AuctionCore {
  readonly id: number
  readonly dateTime: number
  readonly expires: number
}
export interface BidCore {
  readonly auction: number
  readonly bidder: number
  readonly price: number
  readonly dateTime: number
  /** Breaks the last ties, when the query keeps it (a winning price never depends on it). */
  readonly extra?: string
}

export interface Winner<A extends AuctionCore, B extends BidCore> {
  readonly auction: A
  readonly bid: B
}

/** b beats a: higher price, then earlier, then lower bidder id, then smaller `extra`. */
export function beats(b: BidCore, a: BidCore): boolean {
  if (b.price !== a.price) return b.price > a.price
  if (b.dateTime !== a.dateTime) return b.dateTime < a.dateTime
  if (b.bidder !== a.bidder) return b.bidder < a.bidder
  return (b.extra ?? '') < (a.extra ?? '')
}

export function winningBids<A extends AuctionCore, B extends BidCore>(
  ctx: QueryContext,
  auctions: Stream<A>,
  bids: Stream<B>,
): Stream<Winner<A, B>> {
  return auctions
    .keyBy((a) => a.id, { name: 'auctions-by-id' })
    .join(
      bids.keyBy((b) => b.auction, { name: 'bids-by-auction' }),
      (auction, bid): Winner<A, B> => ({ auction, bid }),
      { name: 'auction-bids', before: 0, after: maxAuctionLengthMs(ctx.config) },
    )
    .filter((w) => w.bid.dateTime <= w.auction.expires)
    .process<Winner<A, B>, Winner<A, B>>({
      name: 'winning-bid',
      process(w, c) {
        const best = c.state.get()
        // The first bid: the auction closes once the watermark is past its expiry (a bid at
        // exactly `expires` may still arrive while the watermark is at `expires`).
        if (best === undefined) c.timers.eventTime(w.auction.expires + 1)
        if (best === undefined || beats(w.bid, best.bid)) c.state.set(w)
      },
      onTimer(_, c) {
        const best = c.state.get()
        if (best === undefined) return
        c.emit(best)
        c.state.delete()
      },
    })
}
