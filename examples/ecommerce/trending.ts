/**
 * Trending products: the top 5 by interest in 10-minute windows that start every 2 minutes.
 *
 * Interest is what shoppers do with a product, weighted by how much it says: a view 1, a cart
 * add 3, a purchase 5. Two steps, as "hot items" queries do it: interest is summed per product
 * and window (hopping windows after a keyBy on the product); then the sums of one window meet
 * (keyBy on the window, a tumbling window of one advance, into which every sum of that window
 * falls: a window's results carry its last instant as event time) and the best five are kept.
 */
import { hopping, type SinkTopic, type Stream, sum, topN, tumbling, type Windowed } from 'sluice'
import type { Click, TrendingWindow } from './model.ts'

export const TRENDING_SIZE_MS = 10 * 60_000
export const TRENDING_ADVANCE_MS = 2 * 60_000
export const TRENDING_TOP = 5
export const INTEREST_WEIGHT = { view: 1, 'cart-add': 3, purchase: 5 } as const

export interface Interest {
  productId: string
  weight: number
}

/** What a click says about which products, and how much. */
export function interestOf(click: Click): Interest[] {
  if (click.kind === 'purchase') {
    return click.items.map((line) => ({ productId: line.productId, weight: INTEREST_WEIGHT.purchase }))
  }
  return [{ productId: click.productId, weight: INTEREST_WEIGHT[click.kind] }]
}

/**
 * Ranks higher first; on equal interest the lower product id first (`p-007` before `p-012`),
 * so that the top 5 is one answer rather than an accident of arrival order.
 */
export function rankOf(productId: string, score: number): number {
  return score - Number(productId.slice(2)) / 100_000
}

// #region trending
export function trending(clicks: Stream<Click>, out: SinkTopic<TrendingWindow>): void {
  clicks
    .flatMap(interestOf, { name: 'interest' })
    .keyBy((i) => i.productId, { name: 'interest-by-product' })
    .window(hopping({ size: TRENDING_SIZE_MS, advance: TRENDING_ADVANCE_MS }))
    .aggregate(
      sum((i: Interest) => i.weight),
      { name: 'product-interest' },
    )
    .keyBy((w) => new Date(w.start).toISOString(), { name: 'interest-by-window' })
    .window(tumbling({ size: TRENDING_ADVANCE_MS }))
    .aggregate(topN(TRENDING_TOP, { by: (w: Windowed<number>) => rankOf(w.key, w.value) }), {
      name: 'trending',
    })
    .map(
      (w): TrendingWindow => ({
        windowStart: w.key,
        windowEnd: new Date(Date.parse(w.key) + TRENDING_SIZE_MS).toISOString(),
        products: w.value.map((p) => ({ productId: p.key, score: p.value })),
      }),
      { name: 'trending-window' },
    )
    .to(out, { name: 'trending-out' })
}
// #endregion trending
