/**
 * Precision and recall of a demo's alerts against the cases its generator injected, per kind
 * of case and overall: the fraud and IoT demos score the same way and differ only in what an
 * alert's kind is and when it fits a case.
 */

export interface KindScore {
  cases: number
  detected: number
  alerts: number
  /** Alerts that fit no injected case. */
  falsePositives: number
  precision: number
  recall: number
}

/** n ÷ d, and 1 when there is nothing to divide (no alerts: no false ones). */
export function ratio(n: number, d: number): number {
  return d === 0 ? 1 : n / d
}

/**
 * `decided`: the cases whose alerts must have come by now; `pending`: the others — alerts
 * about those are neither hits nor false positives yet.
 */
export function scoreKinds<K extends string, A, C>(
  kinds: readonly K[],
  alerts: readonly A[],
  decided: readonly C[],
  pending: readonly C[],
  kindOf: { alert: (a: A) => K; case: (c: C) => K },
  fits: (a: A, c: C) => boolean,
): KindScore & { byKind: Record<K, KindScore> } {
  const byKind = {} as Record<K, KindScore>
  let total = { cases: 0, detected: 0, alerts: 0, falsePositives: 0 }
  for (const kind of kinds) {
    const kindCases = decided.filter((c) => kindOf.case(c) === kind)
    const kindAlerts = alerts.filter((a) => kindOf.alert(a) === kind && !pending.some((c) => fits(a, c)))
    const detected = kindCases.filter((c) => kindAlerts.some((a) => fits(a, c))).length
    const falsePositives = kindAlerts.filter((a) => !kindCases.some((c) => fits(a, c))).length
    byKind[kind] = {
      cases: kindCases.length,
      detected,
      alerts: kindAlerts.length,
      falsePositives,
      precision: ratio(kindAlerts.length - falsePositives, kindAlerts.length),
      recall: ratio(detected, kindCases.length),
    }
    total = {
      cases: total.cases + kindCases.length,
      detected: total.detected + detected,
      alerts: total.alerts + kindAlerts.length,
      falsePositives: total.falsePositives + falsePositives,
    }
  }
  return {
    ...total,
    precision: ratio(total.alerts - total.falsePositives, total.alerts),
    recall: ratio(total.detected, total.cases),
    byKind,
  }
}
