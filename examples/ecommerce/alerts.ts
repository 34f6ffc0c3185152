/**
 * Price-change and low-stock alerts: the back office's changes joined with the catalogue.
 *
 * A change names a product and numbers; the catalogue table (the product topic read as a
 * table) has its name, category and reorder point. The join is by product id — both topics
 * are keyed by it, in as many partitions, so no repartition — and in event time: a change
 * joins the catalogue row valid at the change's time, so a reorder point raised for a flash
 * sale applies to the stock movements after it and not to those before, however the two
 * topics are interleaved on the way in.
 *
 * - price-change: the price moved by at least 10% (NOTABLE_PRICE_CHANGE) either way;
 * - low-stock: a stock movement took the product from above its reorder point to at or below
 *   it (once per crossing, not on every sale after it).
 */
import type { SinkTopic, Stream, Table } from 'sluice'
import { NOTABLE_PRICE_CHANGE, type Product, type ProductChange, type ShopAlert } from './model.ts'

const money = (n: number) => n.toFixed(2)

/** The alert a change raises, given the catalogue row at its time; null when it raises none. */
export function alertFor(change: ProductChange, product: Product): ShopAlert | null {
  const { name, category } = product
  if (change.kind === 'price') {
    const ratio = (change.price - change.previous) / change.previous
    if (Math.abs(change.price - change.previous) < NOTABLE_PRICE_CHANGE * change.previous) return null
    return {
      kind: 'price-change',
      changeId: change.id,
      productId: change.productId,
      name,
      category,
      oldPrice: change.previous,
      newPrice: change.price,
      at: change.at,
      detail: `${name} (${category}): ${money(change.previous)} → ${money(change.price)} (${ratio > 0 ? '+' : ''}${Math.round(ratio * 100)}%, ${change.reason})`,
    }
  }
  const before = change.stock - change.delta
  if (!(before > product.reorderAt && change.stock <= product.reorderAt)) return null
  return {
    kind: 'low-stock',
    changeId: change.id,
    productId: change.productId,
    name,
    category,
    stock: change.stock,
    reorderAt: product.reorderAt,
    at: change.at,
    detail: `${name} (${category}): ${change.stock} left, reorder point ${product.reorderAt} (${change.reason === 'sale' ? `sold ${-change.delta}` : `stock count ${change.delta}`})`,
  }
}

// #region alerts
export function alerts(
  changes: Stream<ProductChange>,
  catalog: Table<Product>,
  out: SinkTopic<ShopAlert>,
): void {
  changes
    .join(catalog, alertFor, { name: 'changes-with-product' })
    .filter((a): a is ShopAlert => a !== null, { name: 'alerts' })
    .to(out, { name: 'alerts-out' })
}
// #endregion alerts
