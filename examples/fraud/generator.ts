/**
 * Synthetic card transactions for the fraud demo: seeded and deterministic, so a run can be
 * scored against the fraud cases it injected.
 *
 * The shape: a population of cards, each with a home country, a typical amount (card medians
 * spread log-normally, amounts log-normal around them: many small payments, a long tail), its
 * own activity level and the device its holder pays from (about one household in twelve
 * shares one device between two cards); merchants by category; about 2% of payments declined. Event time is
 * simulated: it advances about one second per transaction (about `cards` seconds between two
 * payments of an average card), whatever the delivery rate, so the data depend on the seed
 * only. About 5% of transactions are delivered up to 8 s of event time late.
 *
 * Injected cases, one every ~100 transactions, each recorded with its card and transactions:
 * - velocity: 10 payments within about two minutes (card testing);
 * - declined-approved: three declines, then an approval, within ten minutes;
 * - amount-spike: one payment 15–40× the card's typical amount;
 * - impossible-travel: a payment at home, then one on another continent minutes later;
 * - fraud-ring: one fraudster's device pays with 4–6 stolen cards (other people's, with
 *   history), one or two ordinary payments each, within 5–20 minutes.
 */

export type Rule = 'velocity' | 'declined-approved' | 'amount-spike' | 'impossible-travel' | 'fraud-ring'
export const RULES: readonly Rule[] = [
  'velocity',
  'declined-approved',
  'amount-spike',
  'impossible-travel',
  'fraud-ring',
]

export interface Transaction {
  id: string
  cardId: string
  merchant: string
  country: string
  amount: number
  /** The device (phone, browser) the payment came from: the holder's own, or a fraudster's. */
  device: string
  /** Event time, ISO 8601. */
  at: string
  status: 'approved' | 'declined'
}

export interface InjectedCase {
  kind: Rule
  /** The card; for a fraud ring, the first of its cards (all of them are in `cards`). */
  cardId: string
  cards: string[]
  txIds: string[]
  /** Event time (ms) of the case's first and last transaction. */
  start: number
  end: number
}

export interface GeneratorOptions {
  seed?: number
  /** Cards in the population (default 400). */
  cards?: number
  /** Event time of the first transaction, ms (default 2026-01-01T00:00:00Z). */
  startAt?: number
  /** Inject cases only before this many transactions (default: always). */
  injectUntil?: number
}

/** Late deliveries stay within this much event time: the pipeline's maxOutOfOrder covers it. */
export const MAX_DELAY_MS = 8_000
const DECLINE_RATE = 0.02
const LATE_RATE = 0.05
const CASE_EVERY = 100
/** Cards whose holder shares a device with the next card's (a household): rings must stand out from them. */
const SHARED_DEVICE_RATE = 0.08
const SECOND = 1_000
const MINUTE = 60_000

/** Countries by continent: impossible travel crosses continents. */
const CONTINENTS: readonly (readonly string[])[] = [
  ['DE', 'FR', 'NL', 'ES', 'IT', 'PL', 'SE', 'GB'],
  ['US', 'CA', 'MX'],
  ['BR', 'AR', 'CL'],
  ['JP', 'SG', 'IN', 'AU'],
  ['NG', 'ZA', 'KE'],
]
/** Where cards are issued, most of them in Europe and North America. */
const HOMES: readonly string[] = [
  'DE',
  'DE',
  'FR',
  'FR',
  'NL',
  'ES',
  'IT',
  'PL',
  'SE',
  'GB',
  'GB',
  'US',
  'US',
  'US',
  'CA',
  'BR',
  'JP',
  'AU',
]
const CATEGORIES = [
  'grocery',
  'fuel',
  'cafe',
  'restaurant',
  'pharmacy',
  'electronics',
  'fashion',
  'travel',
  'online',
  'transit',
]
const NAMES = [
  'north',
  'corner',
  'city',
  'blue',
  'golden',
  'metro',
  'green',
  'prime',
  'star',
  'river',
  'harbor',
  'sun',
]

/** sfc32: small, fast and good enough for synthetic data; the same seed gives the same stream. */
function random(seed: number): () => number {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = () => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 15; i++) next()
  return next
}

interface Card {
  id: string
  home: string
  /** Median payment of this card. */
  median: number
  /** The device its holder pays from. */
  device: string
  /** Payments of this card so far (the pipeline learns its profile from them). */
  seen: number
  /** No new case on this card before this event time: cases do not overlap. */
  busyUntil: number
}

export class FraudGenerator {
  /** The injected cases so far, in the order they were injected. */
  readonly cases: InjectedCase[] = []
  readonly #rand: () => number
  readonly #cards: Card[]
  /** Cumulative activity weights, for picking a card in proportion to its activity. */
  readonly #weights: number[]
  readonly #merchants: string[]
  readonly #injectUntil: number
  #clock: number
  #generated = 0
  #nextTx = 0
  #nextCase = 0
  /** Case transactions not yet due, by event time. */
  #scheduled: Transaction[] = []
  /** Transactions held back for late delivery, by delivery time. */
  #delayed: { due: number; tx: Transaction }[] = []
  #ready: Transaction[] = []

  constructor(options: GeneratorOptions = {}) {
    this.#rand = random(options.seed ?? 1)
    this.#clock = options.startAt ?? Date.parse('2026-01-01T00:00:00Z')
    this.#injectUntil = options.injectUntil ?? Number.POSITIVE_INFINITY
    const count = options.cards ?? 400
    this.#merchants = []
    for (const category of CATEGORIES) {
      for (let i = 0; i < 6; i++) this.#merchants.push(`${this.#pick(NAMES)}-${category}-${i + 1}`)
    }
    this.#cards = []
    this.#weights = []
    let total = 0
    for (let i = 0; i < count; i++) {
      const previous = this.#cards[i - 1]
      // Two cards to a household at most: the previous card must have a device of its own.
      const shared =
        previous !== undefined &&
        this.#cards[i - 2]?.device !== previous.device &&
        this.#rand() < SHARED_DEVICE_RATE
      this.#cards.push({
        id: `card-${String(i + 1).padStart(5, '0')}`,
        home: shared ? previous.home : this.#pick(HOMES),
        median: Math.min(2_000, Math.max(3, Math.exp(Math.log(35) + 0.8 * this.#normal()))),
        device: shared ? previous.device : `dev-${String(i + 1).padStart(5, '0')}`,
        seen: 0,
        busyUntil: 0,
      })
      // Activity between half and twice the average: nobody pays every minute by habit.
      total += 0.5 + 1.5 * this.#rand()
      this.#weights.push(total)
    }
    this.#nextCase = this.#caseGap()
  }

  /** Transactions generated so far (normal and injected). */
  get generated(): number {
    return this.#generated
  }

  /** The next transaction in delivery order (mostly event-time order, some late). */
  next(): Transaction {
    while (this.#ready.length === 0) this.#step()
    return this.#ready.shift()!
  }

  /** Event time (ms) the generator has reached: every transaction delivered later is after it minus MAX_DELAY_MS. */
  get clock(): number {
    return this.#clock
  }

  #step(): void {
    this.#clock += Math.round(-Math.log(1 - this.#rand()) * SECOND)
    while (this.#scheduled.length > 0 && Date.parse(this.#scheduled[0]!.at) <= this.#clock) {
      this.#deliver(this.#scheduled.shift()!)
    }
    if (this.#generated >= this.#nextCase && this.#generated < this.#injectUntil) {
      this.#inject()
      this.#nextCase = this.#generated + this.#caseGap()
    }
    this.#deliver(this.#tx(this.#activeCard(), this.#clock))
    const due = this.#delayed.filter((d) => d.due <= this.#clock)
    if (due.length > 0) {
      this.#delayed = this.#delayed.filter((d) => d.due > this.#clock)
      for (const d of due) this.#ready.push(d.tx)
    }
  }

  #deliver(tx: Transaction): void {
    this.#generated++
    if (this.#rand() < LATE_RATE) {
      this.#delayed.push({
        due: Date.parse(tx.at) + 500 + Math.floor(this.#rand() * (MAX_DELAY_MS - 500)),
        tx,
      })
      this.#delayed.sort((x, y) => x.due - y.due)
    } else {
      this.#ready.push(tx)
    }
  }

  #tx(
    card: Card,
    at: number,
    options: {
      foreign?: boolean
      status?: Transaction['status']
      amount?: number
      merchant?: string
      device?: string
    } = {},
  ): Transaction {
    card.seen++
    const amount = options.amount ?? card.median * Math.exp(0.5 * this.#normal())
    return {
      id: `tx-${String(++this.#nextTx).padStart(8, '0')}`,
      cardId: card.id,
      merchant: options.merchant ?? this.#pick(this.#merchants),
      country: options.foreign ? this.#farFrom(card.home) : card.home,
      amount: Math.round(amount * 100) / 100,
      device: options.device ?? card.device,
      at: new Date(at).toISOString(),
      status: options.status ?? (this.#rand() < DECLINE_RATE ? 'declined' : 'approved'),
    }
  }

  /** A card with history and no case in progress, or null when none turned up. */
  #freeCard(except: readonly Card[] = []): Card | null {
    for (let tries = 0; tries < 50; tries++) {
      const card = this.#activeCard()
      if (card.seen >= 6 && card.busyUntil <= this.#clock && !except.includes(card)) return card
    }
    return null
  }

  /** Schedules one case on a card (cards, for a ring) with history and no case in progress. */
  #inject(): void {
    const card = this.#freeCard()
    if (card === null) return
    const kind = RULES[this.cases.length % RULES.length]!
    const start = this.#clock + 1 + Math.floor(this.#rand() * 30 * SECOND)
    const txs: Transaction[] = []
    const cards = [card]
    if (kind === 'fraud-ring') {
      // Stolen card numbers, used from one device: ordinary amounts at online shops, so only
      // the device gives the ring away.
      const size = 4 + Math.floor(this.#rand() * 3)
      while (cards.length < size) {
        const next = this.#freeCard(cards)
        if (next === null) return
        cards.push(next)
      }
      const device = `dev-ring-${String(this.cases.length + 1).padStart(4, '0')}`
      const span = 5 * MINUTE + Math.floor(this.#rand() * 15 * MINUTE)
      for (const c of cards) {
        const payments = 1 + Math.floor(this.#rand() * 2)
        for (let i = 0; i < payments; i++) {
          const merchant = `${this.#pick(NAMES)}-online-${1 + Math.floor(this.#rand() * 6)}`
          const at = start + Math.floor(this.#rand() * span)
          txs.push(this.#tx(c, at, { merchant, device, status: 'approved' }))
        }
      }
      txs.sort((x, y) => Date.parse(x.at) - Date.parse(y.at))
    } else if (kind === 'velocity') {
      let at = start
      for (let i = 0; i < 10; i++) {
        const merchant = `${this.#pick(NAMES)}-online-${1 + Math.floor(this.#rand() * 6)}`
        // All approved: declines in a burst would make it a declined-approved case as well.
        txs.push(this.#tx(card, at, { merchant, status: 'approved' }))
        at += 3 * SECOND + Math.floor(this.#rand() * 9 * SECOND)
      }
    } else if (kind === 'declined-approved') {
      const merchant = this.#pick(this.#merchants)
      let at = start
      for (let i = 0; i < 3; i++) {
        txs.push(this.#tx(card, at, { status: 'declined', merchant }))
        at += 30 * SECOND + Math.floor(this.#rand() * 60 * SECOND)
      }
      at += Math.floor(this.#rand() * 3 * MINUTE)
      txs.push(this.#tx(card, at, { status: 'approved', merchant }))
    } else if (kind === 'amount-spike') {
      txs.push(this.#tx(card, start, { amount: card.median * (15 + 25 * this.#rand()), status: 'approved' }))
    } else {
      txs.push(this.#tx(card, start, { status: 'approved' }))
      const later = start + 2 * MINUTE + Math.floor(this.#rand() * 18 * MINUTE)
      txs.push(this.#tx(card, later, { foreign: true, status: 'approved' }))
    }
    const first = Date.parse(txs[0]!.at)
    const end = Date.parse(txs[txs.length - 1]!.at)
    for (const c of cards) c.busyUntil = end + 30 * MINUTE
    this.cases.push({
      kind,
      cardId: card.id,
      cards: cards.map((c) => c.id),
      txIds: txs.map((t) => t.id),
      start: first,
      end,
    })
    this.#scheduled.push(...txs)
    this.#scheduled.sort((x, y) => Date.parse(x.at) - Date.parse(y.at))
  }

  #activeCard(): Card {
    const target = this.#rand() * this.#weights[this.#weights.length - 1]!
    let lo = 0
    let hi = this.#weights.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.#weights[mid]! < target) lo = mid + 1
      else hi = mid
    }
    return this.#cards[lo]!
  }

  #farFrom(home: string): string {
    const others = CONTINENTS.filter((c) => !c.includes(home))
    return this.#pick(this.#pick(others))
  }

  #caseGap(): number {
    return Math.floor(CASE_EVERY * (0.5 + this.#rand()))
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#rand() * items.length)]!
  }

  /** A standard normal deviate (Box–Muller). */
  #normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.#rand())) * Math.cos(2 * Math.PI * this.#rand())
  }
}
