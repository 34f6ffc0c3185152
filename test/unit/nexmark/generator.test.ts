/**
 * The Nexmark generator (bench/nexmark/generator.ts): deterministic from its seed, and
 * faithful to the reference's rules — proportions, id assignment, hot items, prices, event
 * time from the rate, auction expiry, out-of-order groups.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FIRST_AUCTION_ID,
  FIRST_PERSON_ID,
  generateEvents,
  generatorConfig,
  maxAuctionLengthMs,
  maxDisorderMs,
} from '../../../bench/nexmark/generator.ts'
import { type Auction, type Bid, eventTime, type Person } from '../../../bench/nexmark/model.ts'

const N = 50_000

function split(events: ReturnType<typeof generateEvents>) {
  const persons: Person[] = []
  const auctions: Auction[] = []
  const bids: Bid[] = []
  for (const e of events) {
    if ('person' in e) persons.push(e.person)
    else if ('auction' in e) auctions.push(e.auction)
    else bids.push(e.bid)
  }
  return { persons, auctions, bids }
}

test('the same seed gives the same events; another seed different ones', () => {
  const a = generateEvents(2_000, generatorConfig({ seed: 1 }))
  const b = generateEvents(2_000, generatorConfig({ seed: 1 }))
  const c = generateEvents(2_000, generatorConfig({ seed: 2 }))
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, c)
  // Ids and kinds come from event numbers, not from the random draws.
  assert.deepEqual(
    a.map((e) => Object.keys(e)[0]),
    c.map((e) => Object.keys(e)[0]),
  )
})

test('1 : 3 : 46 persons, auctions and bids; ids in creation order from 1000', () => {
  const { persons, auctions, bids } = split(generateEvents(N))
  assert.equal(persons.length, N / 50)
  assert.equal(auctions.length, (N / 50) * 3)
  assert.equal(bids.length, (N / 50) * 46)
  assert.deepEqual(
    persons.map((p) => p.id),
    persons.map((_, i) => FIRST_PERSON_ID + i),
  )
  assert.deepEqual(
    auctions.map((a) => a.id),
    auctions.map((_, i) => FIRST_AUCTION_ID + i),
  )
  for (const a of auctions) assert.ok(a.category >= 10 && a.category <= 14)
})

test('hot auctions, bidders and sellers: about 1/2, 3/4 and 3/4 of the picks', () => {
  const { auctions, bids } = split(generateEvents(N))
  // A hot auction is the first of its batch of 100; a hot bidder the second of its batch.
  const hotAuction = bids.filter((b) => (b.auction - FIRST_AUCTION_ID) % 100 === 0).length / bids.length
  const hotBidder = bids.filter((b) => (b.bidder - FIRST_PERSON_ID) % 100 === 1).length / bids.length
  const hotSeller = auctions.filter((a) => (a.seller - FIRST_PERSON_ID) % 100 === 0).length / auctions.length
  assert.ok(hotAuction > 0.48 && hotAuction < 0.53, `hot auctions ${hotAuction}`)
  assert.ok(hotBidder > 0.73 && hotBidder < 0.78, `hot bidders ${hotBidder}`)
  assert.ok(hotSeller > 0.72 && hotSeller < 0.79, `hot sellers ${hotSeller}`)
  // Random picks stay among recent ids, up to 10 ahead of the newest.
  const lastAuction = FIRST_AUCTION_ID + auctions.length - 1
  for (const b of bids) assert.ok(b.auction <= lastAuction + 10)
})

test('prices are log-uniform from $1 to $1,000,000; reserve above the initial bid', () => {
  const { auctions, bids } = split(generateEvents(N))
  const prices = bids.map((b) => b.price)
  assert.ok(Math.min(...prices) >= 100 && Math.max(...prices) <= 100_000_000)
  // log10(price / 100) is uniform on [0, 6): each decade holds about a sixth.
  const decade = prices.filter((p) => p >= 10_000 && p < 100_000).length / prices.length
  assert.ok(decade > 0.15 && decade < 0.185, `decade share ${decade}`)
  for (const a of auctions) assert.ok(a.reserve > a.initialBid)
})

test('event time from the rate; auctions expire within the bound; sizes near the reference averages', () => {
  const config = generatorConfig({ firstEventRate: 1000 })
  const events = generateEvents(10_000, config)
  events.forEach((e, i) => {
    assert.equal(eventTime(e), config.baseTime + i)
  })
  const { persons, auctions, bids } = split(events)
  const bound = maxAuctionLengthMs(config)
  const lengths = auctions.map((a) => a.expires - a.dateTime)
  for (const l of lengths) assert.ok(l >= 1 && l <= bound)
  // The horizon is the time of 100 auctions' worth of events (1,666 events, 1.67 s here):
  // lengths average about that.
  const mean = lengths.reduce((s, l) => s + l, 0) / lengths.length
  assert.ok(mean > 1400 && mean < 1950, `mean auction length ${mean}`)
  const avg = (xs: string[]) => xs.reduce((s, x) => s + x.length, 0) / xs.length
  assert.ok(Math.abs(avg(bids.map((b) => b.extra)) - 68) < 3)
  assert.ok(Math.abs(avg(auctions.map((a) => a.extra)) + 150 - 500) < 60)
  assert.ok(persons.every((p) => /^\d{4} \d{4} \d{4} \d{4}$/.test(p.creditCard)))
  const channels = new Set(bids.map((b) => b.channel))
  for (const hot of ['Google', 'Facebook', 'Baidu', 'Apple']) assert.ok(channels.has(hot))
})

test('out-of-order groups: each group of n events is a permutation, no event further behind than the bound', () => {
  const config = generatorConfig({ firstEventRate: 1000, outOfOrderGroupSize: 37 })
  const times = generateEvents(3_700, config).map(eventTime)
  assert.notDeepEqual(
    times,
    [...times].sort((a, b) => a - b),
  )
  let newest = Number.NEGATIVE_INFINITY
  for (const t of times) {
    assert.ok(t >= newest - maxDisorderMs(config), `${t} is more than the bound behind ${newest}`)
    newest = Math.max(newest, t)
  }
  const inOrder = generateEvents(3_700, generatorConfig({ firstEventRate: 1000 })).map(eventTime)
  assert.deepEqual(
    [...times].sort((a, b) => a - b),
    inOrder,
  )
})

test('a bad config is refused with what to fix', () => {
  assert.throws(() => generatorConfig({ firstEventRate: 0 }), /firstEventRate must be > 0/)
  assert.throws(() => generatorConfig({ outOfOrderGroupSize: 0.5 }), /outOfOrderGroupSize/)
})
