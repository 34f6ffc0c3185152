/**
 * The shop's back office in the simulation: the catalogue rows, price changes (repricing and
 * flash sales), stock movements (sales, restocks, stock-count corrections) — and the records
 * of what the pipeline should alert on.
 *
 * Every change publishes the product's new catalogue row first, then the change event, at the
 * same event time: the row a change joins in the pipeline is the one it made.
 */
import type { CatalogProduct } from './catalog.ts'
import { NOTABLE_PRICE_CHANGE, type Product } from './model.ts'
import type { Simulation } from './simulation.ts'

/** A flash sale's burst of interest in one product, [start, end) in event time (ms). */
export interface InjectedTrend {
  productId: string
  start: number
  end: number
}

export interface PriceChangeRecord {
  changeId: string
  productId: string
  at: number
  oldPrice: number
  newPrice: number
  reason: 'repricing' | 'flash-sale' | 'sale-ended'
  /** At least NOTABLE_PRICE_CHANGE of the old price: an alert is expected. */
  notable: boolean
}

/** A stock movement that took a product from above its reorder point to at or below it. */
export interface LowStockRecord {
  changeId: string
  productId: string
  at: number
  stock: number
  reorderAt: number
  /** A stock-count correction made for the purpose (the others are sales). */
  injected: boolean
}

const MINUTE = 60_000
export const BURST_MS = 6 * MINUTE
const REPRICE_EVERY_MS = 8 * MINUTE
const ADJUST_EVERY_MS = 20 * MINUTE

const iso = (ms: number) => new Date(ms).toISOString()

/** Shops' prices end in .49 or .99: the nearest such price. */
function shopPrice(x: number): number {
  const p = 0.49 + Math.round((x - 0.49) * 2) / 2
  return Math.max(0.49, Math.round(p * 100) / 100)
}

export class BackOffice {
  readonly trends: InjectedTrend[] = []
  readonly priceChanges: PriceChangeRecord[] = []
  readonly lowStock: LowStockRecord[] = []
  readonly #sim: Simulation
  readonly #products: CatalogProduct[]
  /** Little-known products (popularity ranks 40–150), where a flash sale makes a trend. */
  readonly #saleCandidates: number[]
  #nextChange = 0
  /** The product of the flash sale whose burst is under way. */
  #burst: number | null = null
  readonly #onSale = new Set<number>()
  readonly #restocking = new Set<number>()

  constructor(sim: Simulation, products: CatalogProduct[], saleCandidates: number[]) {
    this.#sim = sim
    this.#products = products
    this.#saleCandidates = saleCandidates
  }

  /** Publishes the catalogue as it stands when the shop opens, and starts the routines. */
  open(): void {
    const { random } = this.#sim
    for (let i = 0; i < this.#products.length; i++) this.#publish(i)
    const start = this.#sim.clock
    this.#sim.schedule(start + random.exponential(REPRICE_EVERY_MS), () => this.#reprice())
    this.#sim.schedule(start + random.between(3 * MINUTE, 6 * MINUTE), () => this.#flashSale())
    this.#sim.schedule(start + random.exponential(ADJUST_EVERY_MS), () => this.#adjustment())
  }

  /** The product whose flash-sale burst is under way, if any. */
  get burst(): number | null {
    return this.#burst
  }

  onSale(i: number): boolean {
    return this.#onSale.has(i)
  }

  /** A stock movement; a product that falls to its reorder point is restocked 20–50 minutes later. */
  moveStock(i: number, delta: number, reason: 'sale' | 'restock' | 'adjustment'): void {
    const sim = this.#sim
    const p = this.#products[i]!
    const previous = p.stock
    p.stock += delta
    this.#publish(i)
    const changeId = this.#changeId()
    const at = sim.clock
    sim.deliver({
      topic: 'changes',
      key: p.id,
      value: { kind: 'stock', id: changeId, productId: p.id, delta, stock: p.stock, reason, at: iso(at) },
    })
    if (!(previous > p.reorderAt && p.stock <= p.reorderAt)) return
    this.lowStock.push({
      changeId,
      productId: p.id,
      at,
      stock: p.stock,
      reorderAt: p.reorderAt,
      injected: reason === 'adjustment',
    })
    if (this.#restocking.has(i)) return
    this.#restocking.add(i)
    sim.schedule(at + sim.random.between(20 * MINUTE, 50 * MINUTE), () => {
      this.#restocking.delete(i)
      this.moveStock(i, sim.random.int(60, 150), 'restock')
    })
  }

  /** Publishes product i's catalogue row as it is now. */
  #publish(i: number): void {
    const p = this.#products[i]!
    const value: Product = {
      id: p.id,
      name: p.name,
      category: p.category,
      price: p.price,
      stock: p.stock,
      reorderAt: p.reorderAt,
      updatedAt: iso(this.#sim.clock),
    }
    this.#sim.deliver({ topic: 'products', key: p.id, value })
  }

  #changeId(): string {
    return `c-${String(++this.#nextChange).padStart(6, '0')}`
  }

  #setPrice(i: number, price: number, reason: PriceChangeRecord['reason']): void {
    const p = this.#products[i]!
    const old = p.price
    if (price === old) return
    p.price = price
    this.#publish(i)
    const changeId = this.#changeId()
    const at = this.#sim.clock
    this.#sim.deliver({
      topic: 'changes',
      key: p.id,
      value: { kind: 'price', id: changeId, productId: p.id, previous: old, price, reason, at: iso(at) },
    })
    const notable = Math.abs(price - old) >= NOTABLE_PRICE_CHANGE * old
    this.priceChanges.push({ changeId, productId: p.id, at, oldPrice: old, newPrice: price, reason, notable })
  }

  /** Everyday repricing: ±2–8%, which rounding to .49/.99 can push over 10% on cheap products. */
  #reprice(): void {
    const { random } = this.#sim
    this.#sim.schedule(this.#sim.clock + random.exponential(REPRICE_EVERY_MS), () => this.#reprice())
    const i = random.int(0, this.#products.length - 1)
    if (this.#onSale.has(i)) return
    const p = this.#products[i]!
    const change = random.between(0.02, 0.08) * (random.chance(0.5) ? 1 : -1)
    p.listPrice = shopPrice(p.price * (1 + change))
    this.#setPrice(i, p.listPrice, 'repricing')
  }

  /** A trend: a price cut of 25–40% on a little-known product, and a burst of interest in it. */
  #flashSale(): void {
    const sim = this.#sim
    const candidates = this.#saleCandidates.filter(
      (i) => !this.#onSale.has(i) && this.#products[i]!.stock > 40,
    )
    if (candidates.length === 0) {
      sim.schedule(sim.clock + 5 * MINUTE, () => this.#flashSale())
      return
    }
    const i = sim.random.pick(candidates)
    const p = this.#products[i]!
    this.#onSale.add(i)
    this.#burst = i
    const start = sim.clock
    this.trends.push({ productId: p.id, start, end: start + BURST_MS })
    // The merchandiser expects the sale to sell: the reorder point goes up with it (the
    // low-stock rule must use the one valid at each stock movement's time).
    const normalReorder = p.reorderAt
    p.reorderAt = Math.round(normalReorder * 1.5)
    this.#setPrice(i, shopPrice(p.listPrice * (1 - sim.random.between(0.25, 0.4))), 'flash-sale')
    sim.schedule(start + BURST_MS, () => {
      this.#burst = null
      sim.schedule(sim.clock + sim.random.between(2 * MINUTE, 6 * MINUTE), () => {
        this.#onSale.delete(i)
        p.reorderAt = normalReorder
        this.#setPrice(i, p.listPrice, 'sale-ended')
      })
      sim.schedule(sim.clock + sim.random.between(6 * MINUTE, 14 * MINUTE), () => this.#flashSale())
    })
  }

  /** A stock count finds less than the books say: the product drops to its reorder point or below. */
  #adjustment(): void {
    const sim = this.#sim
    sim.schedule(sim.clock + sim.random.exponential(ADJUST_EVERY_MS), () => this.#adjustment())
    const candidates = this.#products
      .map((_, i) => i)
      .filter((i) => !this.#restocking.has(i) && this.#products[i]!.stock >= this.#products[i]!.reorderAt + 5)
    if (candidates.length === 0) return
    const i = sim.random.pick(candidates)
    const p = this.#products[i]!
    const target = Math.max(0, p.reorderAt - sim.random.int(0, 3))
    this.moveStock(i, target - p.stock, 'adjustment')
  }
}
