/**
 * A deterministic Nexmark event generator.
 *
 * Reference: the generator of nexmark/nexmark (nexmark-flink, `generator/` — GeneratorConfig,
 * NexmarkGenerator, model/{Person,Auction,Bid,Price,Strings}Generator), which is Apache Beam's
 * Nexmark generator with channel and url added to bids. It follows its defaults
 * (NexmarkConfiguration) and rules:
 *
 * - proportions 1 : 3 : 46 (person : auction : bid) by event id: id mod 50 = 0 is a person,
 *   1–3 an auction, the rest bids;
 * - ids from event ids: the n-th person is person 1000 + n, the n-th auction auction 1000 + n,
 *   categories 10–14;
 * - hot items: a bid goes to a hot auction (the first of the latest batch of 100 auctions)
 *   unless `nextInt(hotAuctionRatio) == 0` (ratio 2: half the bids), else to a random auction
 *   among the last 100 in flight plus 10 not created yet; a bid's bidder is a hot bidder (the
 *   second of the latest batch of 100 people) unless `nextInt(hotBiddersRatio) == 0` (ratio 4),
 *   else one of the last 1,000 active people plus 10 not created yet; an auction's seller is a
 *   hot seller (the first of the latest batch of 100 people) unless
 *   `nextInt(hotSellersRatio) == 0` (ratio 4);
 * - prices `round(10^(6·u) · 100)` cents, u uniform in [0, 1); an auction's reserve is its
 *   initial bid plus another such price;
 * - event time from the rate: event n is at `baseTime + floor(n · 10^6 / rate µs) / 1000` ms
 *   (`firstEventRate`, default 10,000 events/s, one generator);
 * - out of order: with `outOfOrderGroupSize` n > 1, the events of each group of n are emitted in
 *   the order `(k · 953) mod n`, each with the event time (and type and ids) of its permuted
 *   number, as in the reference; 1 (the default) is in order;
 * - auction expiry: `expires = dateTime + 1 + nextLong(2 · horizon)`, where the horizon is the
 *   event time until `numInFlightAuctions` (100) more auctions have been created: on average
 *   about 100 auctions are open at once;
 * - channels: half the bids come from one of 4 hot channels (Google, Facebook, Baidu, Apple)
 *   with a fixed url each, the rest from `channel-<0..9999>`, whose url carries
 *   `&channel_id=<reversed bits>` for 9 channels in 10;
 * - sizes: `extra` pads each event to the reference's idealized average sizes (person 200,
 *   auction 500, bid 100 bytes; ±20%), counted the reference's way (8 bytes per number).
 *
 * Where it differs (all so that a run is reproducible and fast to generate):
 * - Determinism: the reference draws from one unseeded `java.util.Random`; here every event
 *   has its own small PRNG (mulberry32) seeded from (seed, event id), as Beam's generator
 *   seeds a `Random` per event id — so event n is a function of the seed, the config and n.
 *   The numbers drawn differ from the reference's, the distributions are the same.
 * - Strings: names, descriptions, email parts and `extra` are slices of two pools of
 *   pseudo-random characters (letters, and letters with a space 1 time in 13) made from the
 *   seed, at a random offset and of the reference's random length, instead of drawing every
 *   character. The urls are made from the seed (the reference makes them from an unseeded
 *   Random per process), and a bid's bidder gets FIRST_PERSON_ID added once (the
 *   nexmark/nexmark version adds it twice to bids, a slip Beam does not have).
 * - One generator (`numEventGenerators` 1); no rate shapes (the rate is constant), no
 *   occasional delays (`probDelayedEvent`), no wall-clock pacing: events are produced as fast
 *   as asked for, their event times come from the rate.
 */
import type { Auction, Bid, Event, Person } from './model.ts'

/** What shapes the events; the defaults are the reference's (NexmarkConfiguration). */
export interface GeneratorConfig {
  /** Events per second of event time (spacing of event times). */
  readonly firstEventRate: number
  readonly personProportion: number
  readonly auctionProportion: number
  readonly bidProportion: number
  readonly avgPersonByteSize: number
  readonly avgAuctionByteSize: number
  readonly avgBidByteSize: number
  readonly hotAuctionRatio: number
  readonly hotSellersRatio: number
  readonly hotBiddersRatio: number
  readonly numInFlightAuctions: number
  readonly numActivePeople: number
  /** 1: in order; n: every n events are emitted in a pseudo-random order. */
  readonly outOfOrderGroupSize: number
  /** Event time of the first event (ms since the epoch). */
  readonly baseTime: number
  /** Seeds every event's random draws. */
  readonly seed: number
}

export const DEFAULT_CONFIG: GeneratorConfig = {
  firstEventRate: 10_000,
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  outOfOrderGroupSize: 1,
  // 2025-01-01T00:00:00Z: a fixed past instant, so runs are reproducible (the reference's
  // default is the wall clock).
  baseTime: 1_735_689_600_000,
  seed: 42,
}

export function generatorConfig(overrides: Partial<GeneratorConfig> = {}): GeneratorConfig {
  const config = { ...DEFAULT_CONFIG, ...overrides }
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isFinite(value))
      throw new RangeError(`nexmark generator: ${name} must be a number, got ${value}`)
  }
  if (config.firstEventRate <= 0) throw new RangeError('nexmark generator: firstEventRate must be > 0')
  if (!Number.isInteger(config.outOfOrderGroupSize) || config.outOfOrderGroupSize < 1) {
    throw new RangeError('nexmark generator: outOfOrderGroupSize must be a whole number ≥ 1')
  }
  return config
}

export const FIRST_AUCTION_ID = 1000
export const FIRST_PERSON_ID = 1000
export const FIRST_CATEGORY_ID = 10
const NUM_CATEGORIES = 5
const AUCTION_ID_LEAD = 10
const PERSON_ID_LEAD = 10
const HOT_SELLER_RATIO = 100
const HOT_AUCTION_RATIO = 100
const HOT_BIDDER_RATIO = 100
const HOT_CHANNELS_RATIO = 2
const CHANNELS_NUMBER = 10_000
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'] as const
const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'] as const
const US_CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
] as const
const FIRST_NAMES = [
  'Peter',
  'Paul',
  'Luke',
  'John',
  'Saul',
  'Vicky',
  'Kate',
  'Julie',
  'Sarah',
  'Deiter',
  'Walter',
] as const
const LAST_NAMES = [
  'Shultz',
  'Abrams',
  'Spencer',
  'White',
  'Bartels',
  'Walton',
  'Smith',
  'Jones',
  'Noris',
] as const
const MIN_STRING_LENGTH = 3
const POOL_SIZE = 1 << 16

/** mulberry32: 32 bits of state, one multiply-xorshift round per draw. */
class Random {
  #state = 0

  seed(seed: number, eventId: number): void {
    // Two multiplicative hashes, so that neighbouring event ids start far apart.
    this.#state = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(eventId | 0, 0x85ebca6b)) | 0
    this.#state ^= Math.floor(eventId / 0x1_0000_0000)
  }

  nextU32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextDouble(): number {
    return ((this.nextU32() >>> 5) * 67_108_864 + (this.nextU32() >>> 6)) / 9_007_199_254_740_992
  }

  /** Uniform in [0, bound). */
  nextInt(bound: number): number {
    return Math.floor(this.nextDouble() * bound)
  }
}

/**
 * Generates the Nexmark event stream for one config: `next()` returns event 0, 1, 2, … in
 * emission order. Every event is a function of (config, its number): two generators with the
 * same config produce the same events.
 */
export class NexmarkGenerator {
  readonly config: GeneratorConfig
  readonly #rand = new Random()
  readonly #totalProportion: number
  readonly #interEventDelayUs: number
  readonly #letters: string
  readonly #words: string
  readonly #hotUrls: string[]
  readonly #channelUrls = new Map<number, string>()
  #count = 0

  constructor(config: GeneratorConfig = DEFAULT_CONFIG) {
    this.config = config
    this.#totalProportion = config.personProportion + config.auctionProportion + config.bidProportion
    this.#interEventDelayUs = 1_000_000 / config.firstEventRate
    const pools = new Random()
    pools.seed(config.seed, -1)
    let letters = ''
    let words = ''
    for (let i = 0; i < POOL_SIZE; i++) {
      letters += String.fromCharCode(97 + pools.nextInt(26))
      words += pools.nextInt(13) === 0 ? ' ' : String.fromCharCode(97 + pools.nextInt(26))
    }
    this.#letters = letters
    this.#words = words
    this.#hotUrls = HOT_CHANNELS.map(() => this.#baseUrl(pools))
  }

  /** How many events have been generated. */
  get count(): number {
    return this.#count
  }

  next(): Event {
    const n = this.#count++
    const adjusted = this.#adjustedEventNumber(n)
    const timestamp = this.timestampForEvent(adjusted)
    const eventId = adjusted
    const rand = this.#rand
    rand.seed(this.config.seed, eventId)
    const rem = eventId % this.#totalProportion
    if (rem < this.config.personProportion) return { person: this.#person(eventId, timestamp) }
    if (rem < this.config.personProportion + this.config.auctionProportion) {
      return { auction: this.#auction(n, eventId, timestamp) }
    }
    return { bid: this.#bid(eventId, timestamp) }
  }

  /** The next `count` events. */
  take(count: number): Event[] {
    const out: Event[] = new Array(count)
    for (let i = 0; i < count; i++) out[i] = this.next()
    return out
  }

  /** Event time of event number n (before out-of-order adjustment). */
  timestampForEvent(n: number): number {
    return this.config.baseTime + Math.floor(Math.floor(n * this.#interEventDelayUs) / 1000)
  }

  #adjustedEventNumber(n: number): number {
    const size = this.config.outOfOrderGroupSize
    if (size === 1) return n
    const base = Math.floor(n / size) * size
    // (n · 953) mod size, without leaving the safe-integer range for large n.
    return base + (((n % size) * 953) % size)
  }

  #lastBase0PersonId(eventId: number): number {
    const c = this.config
    const epoch = Math.floor(eventId / this.#totalProportion)
    let offset = eventId % this.#totalProportion
    if (offset >= c.personProportion) offset = c.personProportion - 1
    return epoch * c.personProportion + offset
  }

  #lastBase0AuctionId(eventId: number): number {
    const c = this.config
    let epoch = Math.floor(eventId / this.#totalProportion)
    let offset = eventId % this.#totalProportion
    if (offset < c.personProportion) {
      // About to make a person: the last auction is the previous epoch's last.
      epoch--
      offset = c.auctionProportion - 1
    } else if (offset >= c.personProportion + c.auctionProportion) {
      offset = c.auctionProportion - 1
    } else {
      offset -= c.personProportion
    }
    return epoch * c.auctionProportion + offset
  }

  /** A random person among the active ones, or up to 10 not created yet. */
  #nextBase0PersonId(eventId: number): number {
    const numPeople = this.#lastBase0PersonId(eventId) + 1
    const active = Math.min(numPeople, this.config.numActivePeople)
    return numPeople - active + this.#rand.nextInt(active + PERSON_ID_LEAD)
  }

  /** A random auction among those likely still open, or up to 10 not created yet. */
  #nextBase0AuctionId(eventId: number): number {
    const last = this.#lastBase0AuctionId(eventId)
    const min = Math.max(last - this.config.numInFlightAuctions, 0)
    return min + this.#rand.nextInt(last - min + 1 + AUCTION_ID_LEAD)
  }

  #price(): number {
    return Math.round(10 ** (this.#rand.nextDouble() * 6) * 100)
  }

  /** Up to `maxLength` characters of words, trimmed (the reference's nextString). */
  #string(maxLength: number): string {
    const len = MIN_STRING_LENGTH + this.#rand.nextInt(maxLength - MIN_STRING_LENGTH)
    const at = this.#rand.nextInt(POOL_SIZE - len)
    return this.#words.slice(at, at + len).trim()
  }

  #exactString(length: number): string {
    const at = this.#rand.nextInt(POOL_SIZE - length)
    return this.#letters.slice(at, at + length)
  }

  /** Pads `currentSize` to the average size, ±20% (the reference's nextExtra). */
  #extra(currentSize: number, averageSize: number): string {
    if (currentSize > averageSize) return ''
    const desired = averageSize - currentSize
    const delta = Math.round(desired * 0.2)
    const size = desired - delta + (delta === 0 ? 0 : this.#rand.nextInt(2 * delta))
    return this.#exactString(size)
  }

  #person(eventId: number, timestamp: number): Person {
    const r = this.#rand
    const id = this.#lastBase0PersonId(eventId) + FIRST_PERSON_ID
    const name = `${FIRST_NAMES[r.nextInt(FIRST_NAMES.length)]} ${LAST_NAMES[r.nextInt(LAST_NAMES.length)]}`
    const emailAddress = `${this.#string(7)}@${this.#string(5)}.com`
    const creditCard = [0, 1, 2, 3].map(() => String(r.nextInt(10_000)).padStart(4, '0')).join(' ')
    const city = US_CITIES[r.nextInt(US_CITIES.length)]!
    const state = US_STATES[r.nextInt(US_STATES.length)]!
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length
    const extra = this.#extra(size, this.config.avgPersonByteSize)
    return { id, name, emailAddress, creditCard, city, state, dateTime: timestamp, extra }
  }

  #auction(eventsSoFar: number, eventId: number, timestamp: number): Auction {
    const c = this.config
    const r = this.#rand
    const id = this.#lastBase0AuctionId(eventId) + FIRST_AUCTION_ID
    const seller =
      (r.nextInt(c.hotSellersRatio) > 0
        ? Math.floor(this.#lastBase0PersonId(eventId) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        : this.#nextBase0PersonId(eventId)) + FIRST_PERSON_ID
    const category = FIRST_CATEGORY_ID + r.nextInt(NUM_CATEGORIES)
    const initialBid = this.#price()
    const expires = timestamp + this.#auctionLengthMs(eventsSoFar, timestamp)
    const itemName = this.#string(20)
    const description = this.#string(100)
    const reserve = initialBid + this.#price()
    const size = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8
    const extra = this.#extra(size, c.avgAuctionByteSize)
    return {
      id,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime: timestamp,
      expires,
      seller,
      category,
      extra,
    }
  }

  /** Long enough that about `numInFlightAuctions` auctions are open at once. */
  #auctionLengthMs(eventsSoFar: number, timestamp: number): number {
    const current = this.#adjustedEventNumber(eventsSoFar)
    const future = this.timestampForEvent(current + this.#eventsPerInFlightAuctions())
    const horizon = future - timestamp
    return 1 + this.#rand.nextInt(Math.max(horizon * 2, 1))
  }

  #eventsPerInFlightAuctions(): number {
    const c = this.config
    return Math.floor((c.numInFlightAuctions * this.#totalProportion) / c.auctionProportion)
  }

  #bid(eventId: number, timestamp: number): Bid {
    const c = this.config
    const r = this.#rand
    const auction =
      (r.nextInt(c.hotAuctionRatio) > 0
        ? Math.floor(this.#lastBase0AuctionId(eventId) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        : this.#nextBase0AuctionId(eventId)) + FIRST_AUCTION_ID
    const bidder =
      (r.nextInt(c.hotBiddersRatio) > 0
        ? Math.floor(this.#lastBase0PersonId(eventId) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        : this.#nextBase0PersonId(eventId)) + FIRST_PERSON_ID
    const price = this.#price()
    let channel: string
    let url: string
    if (r.nextInt(HOT_CHANNELS_RATIO) > 0) {
      const i = r.nextInt(HOT_CHANNELS.length)
      channel = HOT_CHANNELS[i]!
      url = this.#hotUrls[i]!
    } else {
      const n = r.nextInt(CHANNELS_NUMBER)
      channel = `channel-${n}`
      url = this.#channelUrl(n)
    }
    const extra = this.#extra(8 + 8 + 8 + 8, c.avgBidByteSize)
    return { auction, bidder, price, channel, url, dateTime: timestamp, extra }
  }

  #baseUrl(r: Random): string {
    const part = () => {
      const len = MIN_STRING_LENGTH + r.nextInt(5 - MIN_STRING_LENGTH)
      let s = ''
      for (let i = 0; i < len; i++) s += r.nextInt(13) === 0 ? '_' : String.fromCharCode(97 + r.nextInt(26))
      return s
    }
    return `https://www.nexmark.com/${part()}/${part()}/${part()}/item.htm?query=1`
  }

  /** A channel's url, fixed per channel (drawn from the seed and the channel number). */
  #channelUrl(n: number): string {
    let url = this.#channelUrls.get(n)
    if (url === undefined) {
      const r = new Random()
      r.seed(this.config.seed, -2 - n)
      url = this.#baseUrl(r)
      if (r.nextInt(10) > 0) url += `&channel_id=${Math.abs(reverseBits(n))}`
      this.#channelUrls.set(n, url)
    }
    return url
  }
}

/** Java's Integer.reverse: the 32 bits in reverse order, as a signed int. */
function reverseBits(n: number): number {
  let x = n >>> 0
  let out = 0
  for (let i = 0; i < 32; i++) {
    out = (out << 1) | (x & 1)
    x >>>= 1
  }
  return out | 0
}

/**
 * An upper bound on any auction's length (expires − dateTime) for this config: joins of bids
 * to auctions need no wider window than this.
 */
export function maxAuctionLengthMs(config: GeneratorConfig): number {
  const total = config.personProportion + config.auctionProportion + config.bidProportion
  const events = Math.floor((config.numInFlightAuctions * total) / config.auctionProportion)
  const delayMs = 1000 / config.firstEventRate
  // The horizon is at most the event time of `events` events plus the rounding of two
  // timestamps (and the out-of-order shift of the current event).
  const horizon = Math.ceil((events + config.outOfOrderGroupSize) * delayMs) + 2
  return 2 * horizon
}

/**
 * How far an event's time can be behind the newest event time before it (the out-of-order
 * bound a source's watermark needs so that no event is late): a group's events span at most
 * `outOfOrderGroupSize` event spacings.
 */
export function maxDisorderMs(config: GeneratorConfig): number {
  if (config.outOfOrderGroupSize === 1) return 0
  return Math.ceil((config.outOfOrderGroupSize * 1000) / config.firstEventRate) + 1
}

/** `count` events of a fresh generator for `config`. */
export function generateEvents(count: number, config: GeneratorConfig = DEFAULT_CONFIG): Event[] {
  return new NexmarkGenerator(config).take(count)
}
