/**
 * What flows through the e-commerce example: the shop's catalogue, what shoppers do, the
 * price and stock changes of its back office, and what the pipeline writes.
 *
 * Inputs are validated with zod when read (a malformed record goes to the dead-letter topic);
 * outputs are plain types.
 */
import { z } from 'zod'

/** A catalogue row: the product as the shop shows it now. Republished on every change. */
export const Product = z.object({
  id: z.string(),
  name: z.string(),
  category: z.string(),
  price: z.number(),
  stock: z.number().int(),
  /** Stock at or below this is low: the merchandiser reorders. */
  reorderAt: z.number().int(),
  /** Event time of the change that made this row, ISO 8601. */
  updatedAt: z.string().datetime(),
})
export type Product = z.infer<typeof Product>

const session = {
  /** Unique per event: scoring and the dashboard's filters name events by it. */
  id: z.string(),
  sessionId: z.string(),
  shopperId: z.string(),
  at: z.string().datetime(),
}
const OrderLine = z.object({ productId: z.string(), price: z.number(), quantity: z.number().int() })
export type OrderLine = z.infer<typeof OrderLine>

/** Shopper activity (clickstream), keyed by session: views, cart adds, purchases. */
export const Click = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('view'), ...session, productId: z.string(), price: z.number() }),
  z.object({
    kind: z.literal('cart-add'),
    ...session,
    productId: z.string(),
    price: z.number(),
    quantity: z.number().int(),
  }),
  z.object({ kind: z.literal('purchase'), ...session, orderId: z.string(), items: z.array(OrderLine) }),
])
export type Click = z.infer<typeof Click>
export type Purchase = Extract<Click, { kind: 'purchase' }>

/**
 * A change from the back office, keyed by product: the pricing service's price changes
 * (was → now, as a shop shows them) and the warehouse's stock movements (delta and the level
 * after it). Names, categories and reorder points are not in them: they live in the catalogue.
 */
export const ProductChange = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('price'),
    id: z.string(),
    productId: z.string(),
    previous: z.number(),
    price: z.number(),
    reason: z.enum(['repricing', 'flash-sale', 'sale-ended']),
    at: z.string().datetime(),
  }),
  z.object({
    kind: z.literal('stock'),
    id: z.string(),
    productId: z.string(),
    delta: z.number().int(),
    stock: z.number().int(),
    reason: z.enum(['sale', 'restock', 'adjustment']),
    at: z.string().datetime(),
  }),
])
export type ProductChange = z.infer<typeof ProductChange>

/** The best products of one hopping window, best first. */
export interface TrendingWindow {
  windowStart: string
  windowEnd: string
  products: Array<{ productId: string; score: number }>
}

/** A product's "bought together" list, best first: updated on every order that contains it. */
export interface Recommendations {
  productId: string
  together: Array<{ productId: string; orders: number }>
}

export interface AbandonedCart {
  sessionId: string
  shopperId: string
  /** The cart add that was not followed by a purchase in time. */
  productId: string
  addedAt: string
  /** When the cart counted as abandoned: the add plus the time allowed. */
  at: string
}

export type ShopAlert =
  | {
      kind: 'price-change'
      changeId: string
      productId: string
      name: string
      category: string
      oldPrice: number
      newPrice: number
      at: string
      detail: string
    }
  | {
      kind: 'low-stock'
      changeId: string
      productId: string
      name: string
      category: string
      stock: number
      reorderAt: number
      at: string
      detail: string
    }

/**
 * The shop's own definitions, shared by the generator (which makes cases around them) and the
 * pipeline (which applies them): a cart is abandoned when no purchase follows a cart add
 * within this time …
 */
export const ABANDONED_AFTER_MS = 20 * 60_000
/** … and a price change is worth an alert from this share of the old price up. */
export const NOTABLE_PRICE_CHANGE = 0.1
