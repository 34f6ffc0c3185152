/**
 * Scores fraud alerts against the cases the generator injected.
 *
 * A case is detected when an alert of its rule names its card and either one of its
 * transactions or a time within the case's span (first to last transaction, plus the time the
 * rule may take to decide; the impossible-travel alert on the trip back home names the trip
 * out, so it matches too). An alert that matches
 * no case is a false positive. Cases that end after `until` (minus the horizon) are left out:
 * the pipeline could not have decided them yet.
 */
import type { InjectedCase, Rule } from './generator.ts'
import { RULES } from './generator.ts'
import type { Alert } from './pipeline.ts'

/**
 * How long after a case's last transaction its alert may come: a sliding window closes up to
 * its size later, and every rule waits for late records (maxOutOfOrder) first.
 */
const HORIZON_MS: Record<Rule, number> = {
  velocity: 4 * 60_000,
  'declined-approved': 60_000,
  'amount-spike': 60_000,
  'impossible-travel': 60_000,
}

export interface RuleScore {
  cases: number
  detected: number
  alerts: number
  /** Alerts that match no injected case. */
  falsePositives: number
  precision: number
  recall: number
}

export interface Score extends RuleScore {
  byRule: Record<Rule, RuleScore>
}

function matches(alert: Alert, c: InjectedCase): boolean {
  if (alert.rule !== c.kind || alert.card !== c.cardId) return false
  if (alert.txIds.some((id) => c.txIds.includes(id))) return true
  const at = Date.parse(alert.at)
  return at >= c.start && at <= c.end + HORIZON_MS[c.kind]
}

function ratio(n: number, d: number): number {
  return d === 0 ? 1 : n / d
}

/** Precision and recall per rule and overall. `until`: the event time the pipeline has reached. */
export function score(
  alerts: readonly Alert[],
  cases: readonly InjectedCase[],
  until = Number.POSITIVE_INFINITY,
): Score {
  const decided = cases.filter((c) => c.end + HORIZON_MS[c.kind] <= until)
  const pending = cases.filter((c) => c.end + HORIZON_MS[c.kind] > until)
  const byRule = {} as Record<Rule, RuleScore>
  let total = { cases: 0, detected: 0, alerts: 0, falsePositives: 0 }
  for (const rule of RULES) {
    const ruleCases = decided.filter((c) => c.kind === rule)
    // Alerts about cases still pending are neither hits nor false positives yet.
    const ruleAlerts = alerts.filter((a) => a.rule === rule && !pending.some((c) => matches(a, c)))
    const detected = ruleCases.filter((c) => ruleAlerts.some((a) => matches(a, c))).length
    const falsePositives = ruleAlerts.filter((a) => !ruleCases.some((c) => matches(a, c))).length
    byRule[rule] = {
      cases: ruleCases.length,
      detected,
      alerts: ruleAlerts.length,
      falsePositives,
      precision: ratio(ruleAlerts.length - falsePositives, ruleAlerts.length),
      recall: ratio(detected, ruleCases.length),
    }
    total = {
      cases: total.cases + ruleCases.length,
      detected: total.detected + detected,
      alerts: total.alerts + ruleAlerts.length,
      falsePositives: total.falsePositives + falsePositives,
    }
  }
  return {
    ...total,
    precision: ratio(total.alerts - total.falsePositives, total.alerts),
    recall: ratio(total.detected, total.cases),
    byRule,
  }
}

/** The score as lines to print: one per rule, then `score: precision … recall …` overall. */
export function formatScore(s: Score): string[] {
  const line = (name: string, r: RuleScore) =>
    `${name.padEnd(18)} cases ${String(r.cases).padStart(5)}  detected ${String(r.detected).padStart(5)}` +
    `  alerts ${String(r.alerts).padStart(6)}  false positives ${String(r.falsePositives).padStart(4)}` +
    `  precision ${r.precision.toFixed(3)}  recall ${r.recall.toFixed(3)}`
  return [
    ...RULES.map((rule) => line(rule, s.byRule[rule])),
    `score: precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} ` +
      `(${s.detected} of ${s.cases} injected cases detected, ${s.falsePositives} of ${s.alerts} alerts false)`,
  ]
}
