/**
 * Scores the e-commerce pipeline's outputs against what the generator injected, and its
 * trending and "bought together" results against plain-loop references over the same clicks.
 *
 * - abandoned carts, price-change and low-stock alerts: precision and recall against the
 *   recorded cases (an alert must name the case's session or change, and an alert's name,
 *   category and figures must be the catalogue's and the change's);
 * - trends: an injected flash-sale product must be in the top 5 of every window that holds
 *   its whole burst; every trending window must equal the reference's top 5 exactly;
 * - affinities: each injected pair must rank first for both of its products (once they were
 *   bought together at least MIN_PAIR_ORDERS times: before that, chance can tie them); every
 *   product's list must equal the reference's exactly.
 *
 * Cases the pipeline cannot have decided by `until` (its watermark) are left out, with the
 * outputs about them.
 */

import { type KindScore, ratio } from '../scoring.ts'
import { RECOMMENDATIONS } from './bought-together.ts'
import type { AbandonedCartCase, InjectedTrend, LowStockRecord, PriceChangeRecord } from './generator.ts'
import {
  ABANDONED_AFTER_MS,
  type AbandonedCart,
  type Recommendations,
  type ShopAlert,
  type TrendingWindow,
} from './model.ts'
import type { BoughtTogetherReference, TrendingReference } from './reference.ts'
import { TRENDING_ADVANCE_MS, TRENDING_SIZE_MS, TRENDING_TOP } from './trending.ts'

export const MIN_PAIR_ORDERS = 3
/** How long after its time an alert may take: the watermark's lag behind the newest click and a commit. */
const MARGIN_MS = 60_000

/** What the generator recorded (ShopGenerator has these fields). */
export interface Truth {
  readonly names: ReadonlyMap<string, { name: string; category: string }>
  readonly affinities: ReadonlyArray<readonly [string, string]>
  readonly trends: readonly InjectedTrend[]
  readonly abandonedCarts: readonly AbandonedCartCase[]
  readonly priceChanges: readonly PriceChangeRecord[]
  readonly lowStock: readonly LowStockRecord[]
}

export interface Outputs {
  trending: readonly TrendingWindow[]
  recommendations: readonly Recommendations[]
  abandonedCarts: readonly AbandonedCart[]
  alerts: readonly ShopAlert[]
}

export interface References {
  trending: TrendingReference
  together: BoughtTogetherReference
}

/** The demos' common score of one kind of case; here a false positive is an alert that matches no case, gets its details wrong, or repeats one. */
export type Detection = KindScore

export interface ShopScore {
  abandonedCarts: Detection
  priceChanges: Detection
  lowStock: Detection
  trends: { cases: number; found: number }
  pairs: { cases: number; rankedFirst: number; tooFewOrders: number }
  /** Trending windows the reference has final by `until`, and how many the pipeline output equally. */
  trendingWindows: { compared: number; equal: number }
  /** Products bought with others, and how many lists equal the reference's (only after a drain). */
  recommendationLists: { compared: number; equal: number }
  precision: number
  recall: number
  cases: number
  found: number
  alerts: number
  falsePositives: number
}

/**
 * Precision and recall of alerts keyed by a case id: `idOf` names an alert's case, `right`
 * checks its details. Undecided cases, and alerts about them or about what was not decided
 * yet (a purchase that may still come), count neither way.
 */
function detection<A, C>(
  alerts: readonly A[],
  cases: readonly C[],
  caseId: (c: C) => string,
  decided: (c: C) => boolean,
  idOf: (a: A) => string,
  alertDecided: (a: A) => boolean,
  right: (a: A, c: C) => boolean,
): Detection {
  const byId = new Map(cases.map((c) => [caseId(c), c]))
  const counted = alerts.filter((a) => {
    const c = byId.get(idOf(a))
    return c === undefined ? alertDecided(a) : decided(c)
  })
  const hits = new Set<string>()
  let falsePositives = 0
  for (const a of counted) {
    const c = byId.get(idOf(a))
    // A second alert about one case is false too: one cart, one reminder to the shopper.
    if (c !== undefined && right(a, c) && !hits.has(idOf(a))) hits.add(idOf(a))
    else falsePositives++
  }
  const decidedCases = cases.filter(decided)
  return {
    cases: decidedCases.length,
    detected: hits.size,
    alerts: counted.length,
    falsePositives,
    precision: ratio(counted.length - falsePositives, counted.length),
    recall: ratio(hits.size, decidedCases.length),
  }
}

/** The windows that hold a whole burst: starts on the advance grid from end − size to start. */
function windowsHolding(trend: InjectedTrend): number[] {
  const starts: number[] = []
  const first = Math.ceil((trend.end - TRENDING_SIZE_MS) / TRENDING_ADVANCE_MS) * TRENDING_ADVANCE_MS
  for (let s = first; s <= trend.start; s += TRENDING_ADVANCE_MS) starts.push(s)
  return starts
}

const sameList = <T>(a: readonly T[], b: readonly T[]) => JSON.stringify(a) === JSON.stringify(b)

/**
 * `until`: the event time up to which the pipeline has decided (its watermark).
 * `drained`: every click sent has been processed, so the recommendation lists can be compared.
 */
export function score(
  outputs: Outputs,
  truth: Truth,
  references: References,
  until: number,
  drained: boolean,
): ShopScore {
  const nameRight = (a: ShopAlert) => {
    const n = truth.names.get(a.productId)
    return n !== undefined && n.name === a.name && n.category === a.category
  }
  const abandonedCarts = detection(
    outputs.abandonedCarts,
    truth.abandonedCarts,
    (c) => c.sessionId,
    (c) => c.firstAddAt + ABANDONED_AFTER_MS + MARGIN_MS <= until,
    (a) => a.sessionId,
    (a) => Date.parse(a.addedAt) + ABANDONED_AFTER_MS + MARGIN_MS <= until,
    (a, c) => a.shopperId === c.shopperId,
  )
  const priceChanges = detection(
    outputs.alerts.filter((a) => a.kind === 'price-change'),
    truth.priceChanges.filter((c) => c.notable),
    (c) => c.changeId,
    (c) => c.at + MARGIN_MS <= until,
    (a) => a.changeId,
    (a) => Date.parse(a.at) + MARGIN_MS <= until,
    (a, c) =>
      nameRight(a) && a.productId === c.productId && a.oldPrice === c.oldPrice && a.newPrice === c.newPrice,
  )
  const lowStock = detection(
    outputs.alerts.filter((a) => a.kind === 'low-stock'),
    truth.lowStock,
    (c) => c.changeId,
    (c) => c.at + MARGIN_MS <= until,
    (a) => a.changeId,
    (a) => Date.parse(a.at) + MARGIN_MS <= until,
    (a, c) =>
      nameRight(a) && a.productId === c.productId && a.stock === c.stock && a.reorderAt === c.reorderAt,
  )

  const emitted = new Map(outputs.trending.map((w) => [Date.parse(w.windowStart), w.products]))
  let trendCases = 0
  let trendsFound = 0
  for (const trend of truth.trends) {
    const starts = windowsHolding(trend)
    if (starts.length === 0 || starts.some((s) => s + TRENDING_SIZE_MS > until)) continue
    trendCases++
    if (starts.every((s) => emitted.get(s)?.some((p) => p.productId === trend.productId))) trendsFound++
  }
  const trendingWindows = { compared: 0, equal: 0 }
  for (const [start, top] of references.trending.windows) {
    // Windows the pipeline may not have closed yet are compared only if it output them.
    if (start + TRENDING_SIZE_MS > until && !emitted.has(start)) continue
    trendingWindows.compared++
    if (sameList(emitted.get(start) ?? [], top)) trendingWindows.equal++
  }
  // A window the pipeline output that the reference does not have (or has not closed), or
  // output twice (a window's result is final: once), counts against it.
  for (const start of emitted.keys()) {
    if (!references.trending.windows.has(start) && start + TRENDING_SIZE_MS <= until)
      trendingWindows.compared++
  }
  trendingWindows.compared += outputs.trending.length - emitted.size

  const latest = new Map(outputs.recommendations.map((r) => [r.productId, r.together]))
  const pairs = { cases: 0, rankedFirst: 0, tooFewOrders: 0 }
  for (const [a, b] of truth.affinities) {
    if (references.together.together(a, b) < MIN_PAIR_ORDERS) {
      pairs.tooFewOrders++
      continue
    }
    pairs.cases++
    if (latest.get(a)?.[0]?.productId === b && latest.get(b)?.[0]?.productId === a) pairs.rankedFirst++
  }
  const recommendationLists = { compared: 0, equal: 0 }
  if (drained) {
    const expected = references.together.lists(RECOMMENDATIONS)
    for (const id of new Set([...expected.keys(), ...latest.keys()])) {
      recommendationLists.compared++
      if (sameList(latest.get(id) ?? [], expected.get(id) ?? [])) recommendationLists.equal++
    }
  }

  const detections = [abandonedCarts, priceChanges, lowStock]
  const sum = (f: (d: Detection) => number) => detections.reduce((n, d) => n + f(d), 0)
  const alerts = sum((d) => d.alerts)
  const falsePositives = sum((d) => d.falsePositives)
  const cases = sum((d) => d.cases) + trendCases + pairs.cases
  const found = sum((d) => d.detected) + trendsFound + pairs.rankedFirst
  return {
    abandonedCarts,
    priceChanges,
    lowStock,
    trends: { cases: trendCases, found: trendsFound },
    pairs,
    trendingWindows,
    recommendationLists,
    precision: ratio(alerts - falsePositives, alerts),
    recall: ratio(found, cases),
    cases,
    found,
    alerts,
    falsePositives,
  }
}

const n = (x: number, width: number) => String(x).padStart(width)

/** The score as lines to print: one per result, then `score: precision … recall …` overall. */
export function formatScore(s: ShopScore): string[] {
  const line = (name: string, d: Detection) =>
    `${name.padEnd(16)} cases ${n(d.cases, 5)}  detected ${n(d.detected, 5)}` +
    `  alerts ${n(d.alerts, 6)}  false positives ${n(d.falsePositives, 4)}` +
    `  precision ${d.precision.toFixed(3)}  recall ${d.recall.toFixed(3)}`
  const lists = s.recommendationLists
  return [
    line('abandoned-carts', s.abandonedCarts),
    line('price-change', s.priceChanges),
    line('low-stock', s.lowStock),
    `${'trending'.padEnd(16)} trends ${n(s.trends.cases, 4)}  in the top ${TRENDING_TOP} of their windows ${n(s.trends.found, 4)}` +
      `  windows equal to a plain loop's top ${TRENDING_TOP}: ${s.trendingWindows.equal} of ${s.trendingWindows.compared}`,
    `${'bought-together'.padEnd(16)} pairs ${n(s.pairs.cases, 5)}  ranked first both ways ${n(s.pairs.rankedFirst, 4)}` +
      `${s.pairs.tooFewOrders > 0 ? ` (${s.pairs.tooFewOrders} with under ${MIN_PAIR_ORDERS} orders yet)` : ''}` +
      `  lists equal to a plain loop's: ${lists.equal} of ${lists.compared}`,
    `score: precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} ` +
      `(${s.found} of ${s.cases} injected cases found, ${s.falsePositives} of ${s.alerts} alerts false); ` +
      `exact: ${s.trendingWindows.equal}/${s.trendingWindows.compared} trending windows, ` +
      `${lists.equal}/${lists.compared} recommendation lists`,
  ]
}
