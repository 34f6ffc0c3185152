/**
 * The bid statistics of queries 15 and 16: per group (a day; a channel and a day), the number
 * of bids, of distinct bidders and of distinct auctions, in total and per price rank — below
 * $100, $100 to $10,000, from $10,000 (prices are in cents).
 *
 * `count(distinct …)` is written in two stages, as Flink's split distinct aggregation does:
 * each (group, rank, bidder) and (group, rank, auction) passes a `dedupe` once — keyed by that
 * triple, so every repeat lands in the same task — and the group's running aggregate only adds
 * up counters. A set of ids inside the group's aggregate (the DSL's `distinctCount`) would hold
 * every distinct id of the day in one state value, copied at each commit, and search it per bid.
 */
import type { Keyed, Stream } from '../../../src/index.ts'

/** The fields of a bid the statistics read, and its group; queries project bids to this. */
export interface StatsBid {
  readonly group: string
  readonly auction: number
  readonly bidder: number
  readonly price: number
  readonly dateTime: number
}

export interface BidStats {
  totalBids: number
  rank1Bids: number
  rank2Bids: number
  rank3Bids: number
  totalBidders: number
  rank1Bidders: number
  rank2Bidders: number
  rank3Bidders: number
  totalAuctions: number
  rank1Auctions: number
  rank2Auctions: number
  rank3Auctions: number
}

/** Rank 1: under 10,000 cents; rank 2: under 1,000,000; rank 3: the rest. */
export function priceRank(price: number): 1 | 2 | 3 {
  return price < 10_000 ? 1 : price < 1_000_000 ? 2 : 3
}

/** A bid as it counts in one column of its group: 0 the total, 1–3 its rank. */
interface Fact {
  readonly group: string
  readonly rank: number
  readonly id: number
  readonly dateTime: number
}

/** One counter to add to: `offset` 0 bids, 4 bidders, 8 auctions, plus the rank. */
interface Increment {
  readonly group: string
  readonly counter: number
  readonly dateTime: number
}

interface Counters {
  n: number[]
  /** The group's latest bid time (q16 shows its minute). */
  last: number
}

const BIDS = 0
const BIDDERS = 4
const AUCTIONS = 8

// Distinct ids are kept until the watermark is a day past them: a group is at most a day.
const DAY = '1d'

export function bidStatistics(bids: Stream<StatsBid>): Stream<Keyed<BidStats & { last: number }>> {
  const firsts = (of: 'bidder' | 'auction', offset: number) =>
    bids
      .flatMap((b): Fact[] => [
        { group: b.group, rank: 0, id: b[of], dateTime: b.dateTime },
        { group: b.group, rank: priceRank(b.price), id: b[of], dateTime: b.dateTime },
      ])
      .keyBy((f) => JSON.stringify([f.group, f.rank, f.id]), { name: `${of}s-by-group-rank` })
      .dedupe({ name: `distinct-${of}s`, within: DAY })
      .map((f): Increment => ({ group: f.group, counter: offset + f.rank, dateTime: f.dateTime }))
      .keyBy((i) => i.group, { name: `${of}-counts-by-group` })
  // Each stream is keyed by group before the merge: merging the bids as read with streams
  // from after a keyBy would put both sides of that keyBy in one task (compile refuses it).
  return bids
    .flatMap((b): Increment[] => [
      { group: b.group, counter: BIDS, dateTime: b.dateTime },
      { group: b.group, counter: BIDS + priceRank(b.price), dateTime: b.dateTime },
    ])
    .keyBy((i) => i.group, { name: 'counts-by-group' })
    .merge(firsts('bidder', BIDDERS), firsts('auction', AUCTIONS))
    .keyed()
    .aggregate<Counters, BidStats & { last: number }>(
      {
        init: () => ({ n: new Array<number>(12).fill(0), last: Number.NEGATIVE_INFINITY }),
        add: (acc, i) => {
          acc.n[i.counter]!++
          if (i.dateTime > acc.last) acc.last = i.dateTime
          return acc
        },
        result: ({ n, last }) => ({
          totalBids: n[0]!,
          rank1Bids: n[1]!,
          rank2Bids: n[2]!,
          rank3Bids: n[3]!,
          totalBidders: n[4]!,
          rank1Bidders: n[5]!,
          rank2Bidders: n[6]!,
          rank3Bidders: n[7]!,
          totalAuctions: n[8]!,
          rank1Auctions: n[9]!,
          rank2Auctions: n[10]!,
          rank3Auctions: n[11]!,
          last,
        }),
      },
      { name: 'bid-stats' },
    )
}

/** `yyyy-MM-dd` of an event time, in UTC (SQL's `DATE_FORMAT(dateTime, 'yyyy-MM-dd')`). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}
