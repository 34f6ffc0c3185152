/**
 * The benchmark's results as a table, and its section of docs/benchmarks.md — between its own
 * markers, so that other benchmarks' sections are never touched.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { table, writeDoc } from '../common.ts'
import type { HotFunction } from '../profile.ts'
import type { Measured } from './run.ts'

/** events/s per core the issue asks for (embedded backend, exactly-once). */
export const TARGETS: Readonly<Record<string, number>> = {
  q0: 1_000_000,
  q1: 1_000_000,
  q2: 1_000_000,
  q3: 500_000,
  q8: 500_000,
  q4: 300_000,
  q5: 300_000,
  q7: 300_000,
}

export interface QueryResult extends Measured {
  query: string
  title: string
  /** How the events were encoded (and q0–q2's outputs): json or binary. */
  codec: string
  events: number
  profile?: { file: string; top: HotFunction[] }
  /** With --repeat: every run's events/s per core, lowest first (this result is the median run). */
  perCoreRuns?: number[]
}

/**
 * The run to report out of several of one query: the median by CPU time (with an even count,
 * the slower of the middle two), carrying every run's events/s per core. One noisy run, either
 * way, moves the median no further than to its neighbour.
 */
export function medianRun(runs: readonly QueryResult[]): QueryResult {
  if (runs.length === 0) throw new Error('medianRun needs at least one run')
  const byCpu = [...runs].sort((a, b) => a.cpuSeconds - b.cpuSeconds)
  const median = byCpu[Math.floor(byCpu.length / 2)]!
  if (runs.length === 1) return median
  const perCoreRuns = byCpu.map((r) => r.events / r.cpuSeconds).reverse()
  return { ...median, perCoreRuns }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const mb = (bytes: number) => `${Math.round(bytes / 1_048_576).toLocaleString('en-US')}`

export function resultTable(results: readonly QueryResult[]): string {
  const repeated = results.some((r) => r.perCoreRuns !== undefined)
  return table(
    [
      'query',
      'what',
      'codec',
      'events',
      'outputs',
      'wall s',
      'CPU s',
      'events/s',
      'events/s per core',
      ...(repeated ? ['per core, lowest–highest run'] : []),
      'peak RSS MB',
      'peak heap MB',
      'target /s per core',
      'met',
    ],
    results.map((r) => {
      const target = TARGETS[r.query]
      const perCore = r.events / r.cpuSeconds
      return [
        r.query,
        r.title,
        r.codec,
        int(r.events),
        int(r.outputs),
        r.seconds.toFixed(2),
        r.cpuSeconds.toFixed(2),
        int(r.events / r.seconds),
        int(perCore),
        ...(repeated ? [runRange(r.perCoreRuns)] : []),
        mb(r.peakRss),
        mb(r.peakHeap),
        target === undefined ? '' : `≥ ${int(target)}`,
        target === undefined ? '' : perCore >= target ? 'yes' : 'NO',
      ]
    }),
    3,
  )
}

function runRange(perCore: readonly number[] | undefined): string {
  if (!perCore) return ''
  return `${int(perCore[0]!)}–${int(perCore[perCore.length - 1]!)} (${perCore.length} runs)`
}

export function profileTable(top: readonly HotFunction[]): string {
  return table(
    ['function', 'where', 'self time'],
    top.map((f) => [f.name, f.at, `${(f.selfShare * 100).toFixed(1)}%`]),
    2,
  )
}

/** A Markdown table with the delimiter row as Biome's formatter writes it (so `npm run check` passes). */
export function machine(loadAtStart: number): string {
  let cpu = 'unknown CPU'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpu = m[1]!.trim()
  } catch {}
  let revision = 'unknown'
  try {
    const git = (...a: string[]) =>
      execFileSync('git', a, { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8' }).trim()
    revision = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', 'src', 'bench/nexmark') ? ' + changes' : ''}`
  } catch {}
  return `${availableParallelism()} CPUs (${cpu}), Node ${process.version}, 1-minute load average ${loadAtStart.toFixed(2)} at the start and ${loadavg()[0]!.toFixed(2)} at the end; code at ${revision}`
}

const HEADING = '## Nexmark (`npm run bench:nexmark`)'
const START = '<!-- nexmark:start (written by npm run bench:nexmark -- --all --write-docs) -->'
const END = '<!-- nexmark:end -->'

/**
 * Replaces the text between this benchmark's markers, or appends the heading and the markers.
 * The heading stays outside the markers: the other benchmarks' writers replace their section
 * up to the next heading, and so stop before the markers.
 */
export function writeDocsSection(body: string): string {
  const file = resolve(import.meta.dirname, '../../docs/benchmarks.md')
  const marked = `${START}\n\n${body.trim()}\n\n${END}`
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start >= 0 && end > start) {
    text = `${text.slice(0, start)}${marked}${text.slice(end + END.length)}`
  } else {
    text = `${text.trimEnd()}\n\n${HEADING}\n\n${marked}\n`
  }
  writeDoc(file, text)
  return file
}
