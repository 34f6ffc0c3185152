/**
 * Scores fraud alerts against the cases the generator injected.
 *
 * A case is detected when an alert of its rule names its card and either one of its
 * transactions or a time within the case's span (first to last transaction, plus the time the
 * rule may take to decide; the impossible-travel alert on the trip back home names the trip
 * out, so it matches too); a fraud ring, when an alert of its rule names one of its
 * transactions (it names the card that completed the ring). An alert that matches
 * no case is a false positive. Cases that end after `until` (minus the horizon) are left out:
 * the pipeline could not have decided them yet.
 */

import { type KindScore, scoreKinds } from '../scoring.ts'
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
  'fraud-ring': 60_000,
}

/** What the fraud demo calls a kind of case: its rule. */
export type RuleScore = KindScore

export interface Score extends RuleScore {
  byRule: Record<Rule, RuleScore>
}

function matches(alert: Alert, c: InjectedCase): boolean {
  if (alert.rule !== c.kind) return false
  // A ring alert names the card that completed the ring, and the ring's transactions so far.
  if (c.kind === 'fraud-ring') return alert.txIds.some((id) => c.txIds.includes(id))
  if (alert.card !== c.cardId) return false
  if (alert.txIds.some((id) => c.txIds.includes(id))) return true
  const at = Date.parse(alert.at)
  return at >= c.start && at <= c.end + HORIZON_MS[c.kind]
}

/** Precision and recall per rule and overall. `until`: the event time the pipeline has reached. */
export function score(
  alerts: readonly Alert[],
  cases: readonly InjectedCase[],
  until = Number.POSITIVE_INFINITY,
): Score {
  const decided = cases.filter((c) => c.end + HORIZON_MS[c.kind] <= until)
  const pending = cases.filter((c) => c.end + HORIZON_MS[c.kind] > until)
  const { byKind, ...total } = scoreKinds(
    RULES,
    alerts,
    decided,
    pending,
    { alert: (a) => a.rule, case: (c) => c.kind },
    matches,
  )
  return { ...total, byRule: byKind }
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
