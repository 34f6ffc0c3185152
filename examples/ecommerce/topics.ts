/**
 * The e-commerce example's topics. `sluice demo ecommerce` on Kafka passes a per-run suffix,
 * so a run never reads the results or the pipeline state of an earlier one.
 *
 * The catalogue and the product changes are both keyed by product id, in as many partitions:
 * the alerts join them without a repartition.
 */
import { topic } from 'sluice'
import {
  type AbandonedCart,
  Click,
  Product,
  ProductChange,
  type Recommendations,
  type ShopAlert,
  type TrendingWindow,
} from './model.ts'

export const PARTITIONS = 4

export function shopTopics(suffix = '') {
  return {
    clicks: topic(`shop-clicks${suffix}`, {
      schema: Click,
      key: (c) => c.sessionId,
      timestamp: (c) => c.at,
      partitions: PARTITIONS,
    }),
    products: topic(`shop-products${suffix}`, {
      schema: Product,
      key: (p) => p.id,
      timestamp: (p) => p.updatedAt,
      partitions: PARTITIONS,
    }),
    changes: topic(`shop-product-changes${suffix}`, {
      schema: ProductChange,
      key: (c) => c.productId,
      timestamp: (c) => c.at,
      partitions: PARTITIONS,
    }),
    trending: topic<TrendingWindow>(`shop-trending${suffix}`, { key: (t) => t.windowStart }),
    recommendations: topic<Recommendations>(`shop-recommendations${suffix}`, { key: (r) => r.productId }),
    abandonedCarts: topic<AbandonedCart>(`shop-abandoned-carts${suffix}`, { key: (a) => a.sessionId }),
    alerts: topic<ShopAlert>(`shop-alerts${suffix}`, { key: (a) => a.productId }),
  }
}
export type ShopTopics = ReturnType<typeof shopTopics>
