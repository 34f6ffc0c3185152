/**
 * What trending and "bought together" should output, computed by plain loops over the clicks
 * that were sent — no engine, no windows operator, no state store — to check the pipeline's
 * results exactly.
 *
 * Both are fed incrementally as clicks are sent, and keep little: a trending window is reduced
 * to its top 5 as soon as no click can still fall into it (the generator delivers nothing more
 * than MAX_DELAY_MS late), and co-purchases are counts per pair of products.
 */
import { MAX_DELAY_MS } from './generator.ts'
import type { Click, Recommendations, TrendingWindow } from './model.ts'
import { interestOf, TRENDING_ADVANCE_MS, TRENDING_SIZE_MS, TRENDING_TOP } from './trending.ts'

type Ranked = TrendingWindow['products']

/** Most first; on a tie the lower id first. The order trending and bought-together promise. */
function byCountThenId<T>(entries: Array<[string, number]>, make: (id: string, n: number) => T, n: number) {
  return entries
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, n)
    .map(([id, count]) => make(id, count))
}

export class TrendingReference {
  /** Window start → product → interest, for windows that can still change. */
  readonly #open = new Map<number, Map<string, number>>()
  /** Window start → its top products, once final. */
  readonly #final = new Map<number, Ranked>()
  #newest = Number.NEGATIVE_INFINITY

  add(click: Click): void {
    const t = Date.parse(click.at)
    // The windows [start, start + size) holding t: starts on the advance grid in (t − size, t].
    const last = t - (t % TRENDING_ADVANCE_MS)
    for (const { productId, weight } of interestOf(click)) {
      for (
        let start = last - TRENDING_SIZE_MS + TRENDING_ADVANCE_MS;
        start <= last;
        start += TRENDING_ADVANCE_MS
      ) {
        let scores = this.#open.get(start)
        if (!scores) {
          scores = new Map()
          this.#open.set(start, scores)
        }
        scores.set(productId, (scores.get(productId) ?? 0) + weight)
      }
    }
    if (t > this.#newest) {
      this.#newest = t
      this.#close(t - MAX_DELAY_MS)
    }
  }

  /** Windows ending at or before `upTo` get no more clicks: keep only their top. */
  #close(upTo: number): void {
    for (const [start, scores] of this.#open) {
      if (start + TRENDING_SIZE_MS > upTo) continue
      const top = byCountThenId([...scores], (productId, score) => ({ productId, score }), TRENDING_TOP)
      this.#final.set(start, top)
      this.#open.delete(start)
    }
  }

  /** Treats every window as final (at the end of a test: nothing more will be sent). */
  finish(): void {
    this.#close(Number.POSITIVE_INFINITY)
  }

  /** The final windows' tops, by window start (ms). */
  get windows(): ReadonlyMap<number, Ranked> {
    return this.#final
  }
}

export class BoughtTogetherReference {
  /** Product → partner → orders with both. */
  readonly #counts = new Map<string, Map<string, number>>()

  add(click: Click): void {
    if (click.kind !== 'purchase') return
    const ids = [...new Set(click.items.map((line) => line.productId))]
    for (const a of ids) {
      for (const b of ids) {
        if (a === b) continue
        let partners = this.#counts.get(a)
        if (!partners) {
          partners = new Map()
          this.#counts.set(a, partners)
        }
        partners.set(b, (partners.get(b) ?? 0) + 1)
      }
    }
  }

  /** Orders that held both products. */
  together(a: string, b: string): number {
    return this.#counts.get(a)?.get(b) ?? 0
  }

  /** Every product bought with another, with its top partners. */
  lists(n: number): Map<string, Recommendations['together']> {
    const out = new Map<string, Recommendations['together']>()
    for (const [productId, partners] of this.#counts) {
      out.set(
        productId,
        byCountThenId([...partners], (id, orders) => ({ productId: id, orders }), n),
      )
    }
    return out
  }
}
