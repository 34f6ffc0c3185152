/**
 * The comparison as Markdown tables, and its sections of docs/benchmarks.md and
 * docs/nexmark.md — each between this benchmark's own markers, so no other section is touched.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { table, writeDoc } from '../common.ts'
import type { Expectation } from './expected.ts'
import type { Engine, RunResult } from './result.ts'

export const ENGINE_NAMES: Record<Engine, string> = {
  sluice: 'Sluice',
  flink: 'Flink',
  'kafka-streams': 'Kafka Streams',
  kafkats: '@kafkats/flow',
}

/** A run with the check of its results against the reference. */
export interface Checked extends RunResult {
  expected: Expectation
  /** The outputs and checksum equal the reference's for the windows this engine closes. */
  ok: boolean
}

export function check(run: RunResult, expected: Expectation): Checked {
  return { ...run, expected, ok: run.outputs === expected.outputs && run.checksum === expected.checksum }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const mb = (bytes: number) => int(bytes / 1_048_576)
const perCore = (r: RunResult) => r.events / (r.cpuMs / 1000)
/** CPU the broker spent during the run (Kafka Streams, @kafkats/flow), in ms. */
const brokerMs = (r: RunResult) => (typeof r.extra.brokerCpuMs === 'number' ? r.extra.brokerCpuMs : undefined)

export function ratio(sluice: RunResult | undefined, peer: RunResult): string {
  if (!sluice) return ''
  return `${(perCore(sluice) / perCore(peer)).toFixed(2)}×`
}

/** Every run: one row per query and engine. */
export function runsTable(runs: readonly Checked[]): string {
  const sluice = new Map(runs.filter((r) => r.engine === 'sluice').map((r) => [r.query, r]))
  return table(
    [
      'query',
      'engine',
      'outputs',
      'check',
      'wall s',
      'CPU s',
      'broker CPU s',
      'events/s',
      'events/s per core',
      'peak heap MB',
      'peak RSS MB',
      'Sluice ÷ engine, per core',
    ],
    runs.map((r) => [
      r.query,
      ENGINE_NAMES[r.engine],
      int(r.outputs),
      r.ok
        ? 'ok'
        : `MISMATCH: expected ${int(r.expected.outputs)} rows, checksum ${r.expected.checksum}; got checksum ${r.checksum}`,
      (r.wallMs / 1000).toFixed(2),
      (r.cpuMs / 1000).toFixed(2),
      brokerMs(r) === undefined ? '' : (brokerMs(r)! / 1000).toFixed(2),
      int(r.events / (r.wallMs / 1000)),
      int(perCore(r)),
      mb(r.peakHeap),
      mb(r.peakRss),
      r.engine === 'sluice' ? '' : ratio(sluice.get(r.query), r),
    ]),
    2,
  )
}

/** Per query: events/s per core of each engine, and Sluice's ratio to each peer. */
export function summaryTable(runs: readonly Checked[], engines: readonly Engine[]): string {
  const queries = [...new Set(runs.map((r) => r.query))]
  const peers = engines.filter((e) => e !== 'sluice')
  const find = (q: string, e: Engine) => runs.find((r) => r.query === q && r.engine === e)
  return table(
    [
      'query',
      ...engines.map((e) => `${ENGINE_NAMES[e]} /s per core`),
      ...peers.map((e) => `Sluice ÷ ${ENGINE_NAMES[e]}`),
    ],
    queries.map((q) => [
      q,
      ...engines.map((e) => {
        const r = find(q, e)
        if (!r) return '—'
        return `${int(perCore(r))}${r.ok ? '' : ' (MISMATCH)'}`
      }),
      ...peers.map((e) => {
        const r = find(q, e)
        return r ? ratio(find(q, 'sluice'), r) : '—'
      }),
    ]),
    1,
  )
}

const BENCHMARKS_HEADING = '## Nexmark peers (`npm run bench:peers`)'
const BENCHMARKS_START = '<!-- nexmark-peers:start (written by npm run bench:peers -- --write-docs) -->'
const BENCHMARKS_END = '<!-- nexmark-peers:end -->'
const NEXMARK_START = '<!-- peers:start (written by npm run bench:peers -- --write-docs) -->'
const NEXMARK_END = '<!-- peers:end -->'

function replaceBetween(text: string, start: string, end: string, body: string): string | null {
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a < 0 || b < a) return null
  return `${text.slice(0, a)}${start}\n\n${body.trim()}\n\n${text.slice(b)}`
}

/**
 * docs/benchmarks.md: replaces the text between this benchmark's markers; the first time, puts
 * the heading and the markers right after the Nexmark section (or at the end). The heading
 * stays outside the markers, as the Nexmark section's does.
 */
export function writeBenchmarksSection(body: string): string {
  const file = resolve(import.meta.dirname, '../../docs/benchmarks.md')
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  const replaced = replaceBetween(text, BENCHMARKS_START, BENCHMARKS_END, body)
  if (replaced !== null) text = replaced
  else {
    const section = `${BENCHMARKS_HEADING}\n\n${BENCHMARKS_START}\n\n${body.trim()}\n\n${BENCHMARKS_END}\n`
    const after = '<!-- nexmark:end -->'
    const at = text.indexOf(after)
    text =
      at >= 0
        ? `${text.slice(0, at + after.length)}\n\n${section}${text.slice(at + after.length)}`
        : `${text.trimEnd()}\n\n${section}`
  }
  writeDoc(file, text)
  return file
}

/** docs/nexmark.md: the measured table between its markers in the Peers section (which must exist). */
export function writeNexmarkSection(body: string): string {
  const file = resolve(import.meta.dirname, '../../docs/nexmark.md')
  const replaced = replaceBetween(readFileSync(file, 'utf8'), NEXMARK_START, NEXMARK_END, body)
  if (replaced === null) throw new Error(`docs/nexmark.md has no ${NEXMARK_START} … ${NEXMARK_END} markers`)
  writeDoc(file, replaced)
  return file
}
