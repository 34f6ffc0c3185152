/**
 * "Bought together": for each product, the products that were in the same orders most often.
 *
 * Each order becomes one record per ordered pair of its distinct products (a, b), keyed by a;
 * a running aggregate per product counts its partners. Its result — the best five, most
 * orders first, then by product id — is emitted on every order that changes it (the live
 * recommendations topic) and is queryable: `store('bought-together').get('p-042')`, or
 * GET /stores/bought-together/p-042 on the demo's server.
 */
import type { Aggregator, SinkTopic, Stream } from 'sluice'
import type { Click, Purchase, Recommendations } from './model.ts'

export const RECOMMENDATIONS = 5

export interface Pair {
  productId: string
  with: string
}

/** Every ordered pair of distinct products in an order: quantities and repeats count once. */
export function pairsOf(order: Purchase): Pair[] {
  const ids = [...new Set(order.items.map((line) => line.productId))]
  const pairs: Pair[] = []
  for (const a of ids) for (const b of ids) if (a !== b) pairs.push({ productId: a, with: b })
  return pairs
}

/** Most orders first; equal counts by product id, so the list does not depend on arrival order. */
export function best(counts: Record<string, number>, n = RECOMMENDATIONS): Recommendations['together'] {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, n)
    .map(([productId, orders]) => ({ productId, orders }))
}

const coPurchases: Aggregator<Pair, Record<string, number>, Recommendations['together']> = {
  init: () => ({}),
  // In place: the engine copies state when it takes it for a commit.
  add: (counts, pair) => {
    counts[pair.with] = (counts[pair.with] ?? 0) + 1
    return counts
  },
  result: (counts) => best(counts),
}

// #region bought-together
export function boughtTogether(clicks: Stream<Click>, out: SinkTopic<Recommendations>): void {
  clicks
    .filter((c): c is Purchase => c.kind === 'purchase', { name: 'purchases' })
    .flatMap(pairsOf, { name: 'order-pairs' })
    .keyBy((pair) => pair.productId, { name: 'pairs-by-product' })
    .aggregate(coPurchases, { name: 'bought-together' })
    .map((a): Recommendations => ({ productId: a.key, together: a.value }), { name: 'recommendations' })
    .to(out, { name: 'recommendations-out' })
}
// #endregion bought-together
