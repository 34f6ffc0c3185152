/**
 * Synthetic shop traffic for the e-commerce demo: seeded and deterministic, so a run can be
 * scored against the cases it injected.
 *
 * The shape: a catalogue of products (catalog.ts) whose popularity is skewed (Zipf over a
 * shuffled ranking); shoppers arrive in sessions (a Poisson process), view products one after
 * another, put some in the cart and then buy them — or leave. Each purchase takes stock, and
 * the back office changes prices, counts stock and restocks. Event time is simulated (a
 * session about every 5 s, each view 4 s to 3 min after the last), whatever the delivery rate,
 * so the data depend on the seed only. About 5% of clicks (the shop's apps are on phones) are
 * delivered up to 8 s of event time late; the back office's changes arrive in order.
 *
 * The clock and agenda are simulation.ts; prices and stock are the back office's
 * (back-office.ts); this file is the shoppers. Injected cases, each recorded with its ids:
 * - trends: a flash sale cuts a little-known product's price by 25–40% and, for 6 minutes,
 *   30% of what shoppers look at is that product; the price comes back 2–6 minutes later;
 * - affinities: five pairs of popular products bought together — a shopper who puts one in
 *   the cart looks at the other and takes it too, four times in five;
 * - abandoned carts: 30% of the sessions that add to the cart never buy (some buyers take
 *   until 1.5–4 minutes before the deadline, to catch a rule that is too eager);
 * - price changes (every repricing and flash sale; those of 10% or more are notable) and
 *   stock running low (every stock movement that takes a product to its reorder point —
 *   sales, and stock-count corrections injected for the purpose).
 */
import { BackOffice, type InjectedTrend, type LowStockRecord, type PriceChangeRecord } from './back-office.ts'
import { type CatalogProduct, makeCatalog } from './catalog.ts'
import { ABANDONED_AFTER_MS, type Click, type OrderLine } from './model.ts'
import { Random, Weighted } from './random.ts'
import { type Delivery, Simulation } from './simulation.ts'

export type { InjectedTrend, LowStockRecord, PriceChangeRecord } from './back-office.ts'
export { type Delivery, MAX_DELAY_MS } from './simulation.ts'

export interface AbandonedCartCase {
  sessionId: string
  shopperId: string
  /** Event time (ms) of the session's first cart add. */
  firstAddAt: number
  /** `left`: the shopper never came to buy; `sold-out`: nothing in the cart was left to buy. */
  reason: 'left' | 'sold-out'
}

export interface ShopGeneratorOptions {
  seed?: number
  /** Products in the catalogue (default 200, at least 160). */
  products?: number
  /** Shoppers who come back in several sessions (default 3,000). */
  shoppers?: number
  /** Event time of the catalogue and of the first session, ms (default 2026-01-01T00:00:00Z). */
  startAt?: number
  /** Mean event time between two sessions starting, ms (default 5,000). */
  sessionEveryMs?: number
}

const SECOND = 1_000
const MINUTE = 60_000

const ZIPF_EXPONENT = 0.9
const ADD_CHANCE = 0.12
const ADD_CHANCE_ON_SALE = 0.45
const MAX_CART = 4
const ABANDON_RATE = 0.3
const NEAR_MISS_RATE = 0.12
const AFFINITY_PAIRS = 5
const AFFINITY_CHANCE = 0.8
const BURST_SHARE = 0.3

interface Session {
  id: string
  shopperId: string
  viewsLeft: number
  /** Product index → quantity. */
  cart: Map<number, number>
  fate: 'browsing' | 'buying' | 'abandoning'
  firstAddAt: number
  purchaseAt: number
  /** The product the next view is for, and goes in the cart: bought together with the last add. */
  partner: number | null
}

const iso = (ms: number) => new Date(ms).toISOString()
const pad = (n: number, width: number) => String(n).padStart(width, '0')

export class ShopGenerator {
  /** Product id → name and category, as the catalogue has them (they never change). */
  readonly names: ReadonlyMap<string, { name: string; category: string }>
  /** The product pairs bought together on purpose. */
  readonly affinities: ReadonlyArray<readonly [string, string]>
  readonly abandonedCarts: AbandonedCartCase[] = []
  sessions = 0
  orders = 0

  readonly #sim: Simulation
  readonly #random: Random
  readonly #office: BackOffice
  readonly #products: CatalogProduct[]
  /** Popularity rank → product index. */
  readonly #byRank: number[]
  readonly #popularity: Weighted
  readonly #partner = new Map<number, number>()
  readonly #shoppers: number
  readonly #sessionEvery: number
  #nextEvent = 0

  constructor(options: ShopGeneratorOptions = {}) {
    this.#random = new Random(options.seed ?? 1)
    this.#sim = new Simulation(this.#random, options.startAt ?? Date.parse('2026-01-01T00:00:00Z'))
    this.#shoppers = options.shoppers ?? 3_000
    this.#sessionEvery = options.sessionEveryMs ?? 5 * SECOND
    const count = Math.max(options.products ?? 200, 160)
    this.#products = makeCatalog(this.#random, count)
    this.names = new Map(this.#products.map((p) => [p.id, { name: p.name, category: p.category }]))
    this.#byRank = this.#random.shuffle(this.#products.map((_, i) => i))
    this.#popularity = Weighted.zipf(count, ZIPF_EXPONENT)
    // Pairs among the popular products (ranks 3–12): bought often enough to stand out quickly.
    const pairs: Array<readonly [string, string]> = []
    for (let k = 0; k < AFFINITY_PAIRS; k++) {
      const a = this.#byRank[2 + 2 * k]!
      const b = this.#byRank[3 + 2 * k]!
      this.#partner.set(a, b)
      this.#partner.set(b, a)
      pairs.push([this.#products[a]!.id, this.#products[b]!.id])
    }
    this.affinities = pairs
    this.#office = new BackOffice(this.#sim, this.#products, this.#byRank.slice(40, 150))
    this.#office.open()
    this.#sim.schedule(this.#sim.clock + this.#random.exponential(this.#sessionEvery), () => this.#arrival())
  }

  get trends(): readonly InjectedTrend[] {
    return this.#office.trends
  }

  get priceChanges(): readonly PriceChangeRecord[] {
    return this.#office.priceChanges
  }

  get lowStock(): readonly LowStockRecord[] {
    return this.#office.lowStock
  }

  /** Records generated so far (delivered or held back). */
  get generated(): number {
    return this.#sim.generated
  }

  /** Event time (ms) the simulation has reached: later deliveries are after it minus MAX_DELAY_MS. */
  get clock(): number {
    return this.#sim.clock
  }

  /** The next record in delivery order (event-time order, some clicks late). */
  next(): Delivery {
    return this.#sim.next()
  }

  #arrival(): void {
    this.#sim.schedule(this.#sim.clock + this.#random.exponential(this.#sessionEvery), () => this.#arrival())
    const session: Session = {
      id: `s-${pad(++this.sessions, 6)}`,
      shopperId: `u-${pad(this.#random.int(1, this.#shoppers), 5)}`,
      viewsLeft: Math.min(20, 2 + Math.floor(this.#random.exponential(4))),
      cart: new Map(),
      fate: 'browsing',
      firstAddAt: 0,
      purchaseAt: 0,
      partner: null,
    }
    this.#view(session, this.#pickProduct())
  }

  #pickProduct(): number {
    const burst = this.#office.burst
    if (burst !== null && this.#random.chance(BURST_SHARE)) return burst
    return this.#byRank[this.#popularity.sample(this.#random)]!
  }

  #view(s: Session, i: number): void {
    s.viewsLeft--
    const product = this.#products[i]!
    this.#click({ kind: 'view', ...this.#session(s), productId: product.id, price: product.price })
    const inStock = product.stock > 0 && !s.cart.has(i)
    let wants: boolean
    if (s.partner === i) wants = inStock && s.cart.size <= MAX_CART
    else {
      const chance = this.#office.onSale(i) ? ADD_CHANCE_ON_SALE : ADD_CHANCE
      wants = inStock && s.cart.size < MAX_CART && this.#random.chance(chance)
    }
    s.partner = null
    const addAt = this.#sim.clock + this.#random.between(3 * SECOND, 15 * SECOND)
    if (wants && this.#inTime(s, addAt)) this.#sim.schedule(addAt, () => this.#add(s, i))
    else this.#browseOn(s)
  }

  /** A buyer's session ends with the purchase: nothing of it may come after. */
  #inTime(s: Session, at: number): boolean {
    return s.fate !== 'buying' || at < s.purchaseAt - SECOND
  }

  #browseOn(s: Session): void {
    if (s.viewsLeft <= 0) return
    const at =
      this.#sim.clock + Math.min(3 * MINUTE, Math.max(4 * SECOND, this.#random.exponential(30 * SECOND)))
    if (this.#inTime(s, at)) this.#sim.schedule(at, () => this.#view(s, this.#pickProduct()))
  }

  #add(s: Session, i: number): void {
    const product = this.#products[i]!
    if (product.stock < 1) {
      this.#browseOn(s)
      return
    }
    const quantity = this.#random.chance(0.1) ? 2 : 1
    s.cart.set(i, quantity)
    this.#click({
      kind: 'cart-add',
      ...this.#session(s),
      productId: product.id,
      price: product.price,
      quantity,
    })
    if (s.fate === 'browsing') {
      s.firstAddAt = this.#sim.clock
      if (this.#random.chance(ABANDON_RATE)) {
        s.fate = 'abandoning'
        this.abandonedCarts.push({
          sessionId: s.id,
          shopperId: s.shopperId,
          firstAddAt: this.#sim.clock,
          reason: 'left',
        })
      } else {
        s.fate = 'buying'
        const delay = this.#random.chance(NEAR_MISS_RATE)
          ? this.#random.between(ABANDONED_AFTER_MS - 4 * MINUTE, ABANDONED_AFTER_MS - 1.5 * MINUTE)
          : this.#random.between(1 * MINUTE, 10 * MINUTE)
        s.purchaseAt = this.#sim.clock + delay
        this.#sim.schedule(s.purchaseAt, () => this.#purchase(s))
      }
    }
    const partner = this.#partner.get(i)
    const viewAt = this.#sim.clock + this.#random.between(3 * SECOND, 15 * SECOND)
    if (
      partner !== undefined &&
      !s.cart.has(partner) &&
      this.#random.chance(AFFINITY_CHANCE) &&
      this.#inTime(s, viewAt)
    ) {
      s.partner = partner
      s.viewsLeft = Math.max(s.viewsLeft, 1)
      this.#sim.schedule(viewAt, () => this.#view(s, partner))
    } else this.#browseOn(s)
  }

  #purchase(s: Session): void {
    const lines: Array<OrderLine & { index: number }> = []
    for (const [i, quantity] of s.cart) {
      const product = this.#products[i]!
      // Sold out since it went in the cart: the order goes without it.
      if (product.stock >= quantity)
        lines.push({ index: i, productId: product.id, price: product.price, quantity })
    }
    if (lines.length === 0) {
      this.abandonedCarts.push({
        sessionId: s.id,
        shopperId: s.shopperId,
        firstAddAt: s.firstAddAt,
        reason: 'sold-out',
      })
      return
    }
    this.orders++
    this.#click({
      kind: 'purchase',
      ...this.#session(s),
      orderId: `o-${pad(this.orders, 6)}`,
      items: lines.map(({ productId, price, quantity }) => ({ productId, price, quantity })),
    })
    for (const line of lines) this.#office.moveStock(line.index, -line.quantity, 'sale')
  }

  #session(s: Session) {
    return {
      id: `e-${pad(++this.#nextEvent, 8)}`,
      sessionId: s.id,
      shopperId: s.shopperId,
      at: iso(this.#sim.clock),
    }
  }

  #click(click: Click): void {
    this.#sim.deliver({ topic: 'clicks', key: click.sessionId, value: click })
  }
}
