/**
 * Scores the IoT pipeline's alerts and commands against the cases the generator injected.
 *
 * A case is detected when an alert of its kind names its sensor (its room, for an overheat) at
 * an event time that fits it: the spike's own reading; a time within the stuck span; the last
 * reading before the outage (up to 2 minutes before its first missed reading, late
 * deliveries included); the overheat's span. An alert that fits no case is a false positive.
 *
 * A case is decided once the pipeline's watermark (`until`) is past its start plus the time its
 * rule needs: 2 minutes for a spike, 5 for stuck (12 readings), the silence threshold plus 3
 * for silent, and for an overheat 5 after its ramp reached the threshold (the minute's window
 * closes, the watermark passes it).
 * Cases not decided yet are left out, and so are the alerts that fit them.
 *
 * Commands: each decided overheat should get exactly one `cool` command, and one `auto` once it
 * has cooled down; more `cool` commands than that are flapping.
 */

import { type KindScore, scoreKinds } from '../scoring.ts'
import { CASE_KINDS, type CaseKind, type InjectedCase } from './generator.ts'
import type { Alert, Command } from './types.ts'

const MINUTE = 60_000

export interface ScoreOptions {
  /** Event time the pipeline has decided up to (its watermark); default: everything. */
  until?: number
  /** Event time a silence must last before its alert, at this run's pace (default 3 min). */
  silentAfterMs?: number
}

export interface CommandScore {
  /** Decided overheat cases. */
  cases: number
  cool: number
  auto: number
  /** `cool` commands beyond one per case, or for no case. */
  flapping: number
  /** Overheats that ended (and were decided) with no `auto` command after them. */
  notRestored: number
}

export interface Score extends KindScore {
  byKind: Record<CaseKind, KindScore>
  commands: CommandScore
}

/** Event time after a case's start by which its alert must have come. */
function horizon(c: InjectedCase, silentAfterMs: number): number {
  if (c.kind === 'spike') return 2 * MINUTE
  if (c.kind === 'stuck') return 5 * MINUTE
  if (c.kind === 'silent') return silentAfterMs + 3 * MINUTE
  return (c.hotAt ?? c.end) - c.start + 5 * MINUTE
}

function fits(alert: Alert, c: InjectedCase): boolean {
  if (alert.kind !== c.kind) return false
  const at = Date.parse(alert.at)
  if (c.kind === 'overheat') return alert.room === c.room && at >= c.start && at <= c.end + 5 * MINUTE
  if (alert.device !== c.sensor) return false
  if (c.kind === 'spike') return at === c.start
  if (c.kind === 'stuck') return at >= c.start && at <= c.end
  return at >= c.start - 2 * MINUTE && at < c.end
}

export function score(
  alerts: readonly Alert[],
  commands: readonly Command[],
  cases: readonly InjectedCase[],
  options: ScoreOptions = {},
): Score {
  const until = options.until ?? Number.POSITIVE_INFINITY
  const silentAfterMs = options.silentAfterMs ?? 3 * MINUTE
  const isDecided = (c: InjectedCase) => c.start + horizon(c, silentAfterMs) <= until
  const decided = cases.filter(isDecided)
  const pending = cases.filter((c) => !isDecided(c))
  return {
    ...scoreKinds(CASE_KINDS, alerts, decided, pending, { alert: (a) => a.kind, case: (c) => c.kind }, fits),
    commands: scoreCommands(commands, decided, pending, until),
  }
}

function scoreCommands(
  commands: readonly Command[],
  decided: readonly InjectedCase[],
  pending: readonly InjectedCase[],
  until: number,
): CommandScore {
  const during = (cmd: Command, c: InjectedCase) =>
    c.kind === 'overheat' &&
    cmd.room === c.room &&
    Date.parse(cmd.at) >= c.start &&
    Date.parse(cmd.at) <= c.end + 5 * MINUTE
  const mine = commands.filter((cmd) => !pending.some((c) => during(cmd, c)))
  const overheats = decided.filter((c) => c.kind === 'overheat')
  const cool = mine.filter((cmd) => cmd.set.mode === 'cool')
  const auto = mine.filter((cmd) => cmd.set.mode === 'auto')
  let flapping = cool.filter((cmd) => !overheats.some((c) => during(cmd, c))).length
  let notRestored = 0
  for (const c of overheats) {
    flapping += Math.max(0, cool.filter((cmd) => during(cmd, c)).length - 1)
    if (c.end + 5 * MINUTE <= until && !auto.some((cmd) => during(cmd, c))) notRestored++
  }
  return { cases: overheats.length, cool: cool.length, auto: auto.length, flapping, notRestored }
}

/** The score as lines to print: one per kind, the commands, then `score: precision … recall …`. */
export function formatScore(s: Score): string[] {
  const line = (name: string, k: KindScore) =>
    `${name.padEnd(9)} cases ${String(k.cases).padStart(5)}  detected ${String(k.detected).padStart(5)}` +
    `  alerts ${String(k.alerts).padStart(6)}  false positives ${String(k.falsePositives).padStart(4)}` +
    `  precision ${k.precision.toFixed(3)}  recall ${k.recall.toFixed(3)}`
  const c = s.commands
  return [
    ...CASE_KINDS.map((kind) => line(kind, s.byKind[kind])),
    `commands: ${c.cool} cool and ${c.auto} auto for ${c.cases} overheats; ` +
      `${c.flapping} flapping, ${c.notRestored} not restored`,
    `score: precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} ` +
      `(${s.detected} of ${s.cases} injected cases detected, ${s.falsePositives} of ${s.alerts} alerts false)`,
  ]
}
