/**
 * The e-commerce example: one pipeline over a shop's clicks, catalogue and back-office
 * changes, four results.
 *
 * - trending (trending.ts): the top 5 products by interest per 10-minute hopping window;
 * - bought together (bought-together.ts): per product, the products most often in the same
 *   orders — live, and queryable as the store `bought-together`;
 * - abandoned carts (abandoned-carts.ts): a cart add with no purchase within 20 minutes
 *   (a pattern with `notFollowedBy`);
 * - alerts (alerts.ts): price changes of 10% or more and stock falling to the reorder point,
 *   joined with the catalogue table for the product's name, category and reorder point.
 *
 *   sluice demo ecommerce                       (feeds generated traffic, scores the results)
 *   sluice run examples/ecommerce/pipeline.ts   (reads the shop-* topics, however they arrive)
 */
import { type Pipeline, pipeline } from 'sluice'
import { abandonedCarts } from './abandoned-carts.ts'
import { alerts } from './alerts.ts'
import { boughtTogether } from './bought-together.ts'
import { type ShopTopics, shopTopics } from './topics.ts'
import { trending } from './trending.ts'

export { type ShopTopics, shopTopics } from './topics.ts'

/** Builds the pipeline; `sluice run` runs the one this module exports by default. */
// #region pipeline
export function ecommercePipeline(name = 'ecommerce', topics: ShopTopics = shopTopics()): Pipeline {
  const p = pipeline(name)
  // Clicks from phones arrive up to 8 s late: windows and the pattern wait 10 s for them.
  const clicks = p.from(topics.clicks, { watermark: { maxOutOfOrder: '10s', idleAfter: '30s' } })
  // The back office delivers in order; its quiet partitions must not hold event time back long.
  const changes = p.from(topics.changes, { watermark: { idleAfter: '5s' } })
  // The product row of each change is written before the change, at the same event time.
  const catalog = p.table(topics.products, { name: 'products' })

  trending(clicks, topics.trending)
  boughtTogether(clicks, topics.recommendations)
  abandonedCarts(clicks.keyed(), topics.abandonedCarts)
  alerts(changes, catalog, topics.alerts)
  return p
}
// #endregion pipeline

export default ecommercePipeline()
