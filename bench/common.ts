/** Helpers shared by the benchmark scripts. */

import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type ParseArgsConfig, parseArgs } from 'node:util'

/**
 * Writes a Markdown file a benchmark's `--write-docs` produced, then lets Biome align its
 * tables: unformatted tables fail `npm run check`, and once failed CI after a benchmark run.
 */
export function writeDoc(target: string | URL, text: string): void {
  const file = typeof target === 'string' ? target : fileURLToPath(target)
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`)
  const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url))
  try {
    execFileSync(biome, ['format', '--write', file], { stdio: 'ignore' })
  } catch {
    process.stderr.write(`could not format ${file}: run npx biome format --write ${file}\n`)
  }
}

/** Parses a `--name N` flag (underscores and commas allowed); exits with code 2 when it is not a positive integer. */
export function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const n = Number(text.replaceAll('_', '').replaceAll(',', ''))
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive whole number, got ${text}\n`)
    process.exit(2)
  }
  return n
}

/**
 * The flag errors of a benchmark script: `fail` prints one line naming the script and exits 2;
 * `count` parses a whole number (underscores and commas allowed) of at least `min`.
 */
export function flagErrors(script: string) {
  const fail = (message: string): never => {
    process.stderr.write(`${script}: ${message}\nRun with --help for the options.\n`)
    process.exit(2)
  }
  const count = (name: string, text: string | undefined, fallback: number, min = 1): number => {
    if (text === undefined) return fallback
    const n = Number(text.replaceAll('_', '').replaceAll(',', ''))
    if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be a whole number ≥ ${min}, got "${text}"`)
    return n
  }
  return { fail, count }
}

/**
 * A benchmark script's flags: one that does not parse fails through `fail` (exit 2, naming
 * it), and `--help` (an option the config declares) prints `help` and exits 0.
 */
export function parseFlags<T extends ParseArgsConfig>(
  config: T,
  help: string,
  fail: (message: string) => never,
): ReturnType<typeof parseArgs<T>>['values'] {
  let values: ReturnType<typeof parseArgs<T>>['values']
  try {
    values = parseArgs(config).values
  } catch (e) {
    return fail((e as Error).message)
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help)
    process.exit(0)
  }
  return values
}

/** A deterministic xorshift32 generator: `rand(bound)` is in `0 .. bound - 1`; the same seed gives the same events. */
export function xorshift(seed = 0x2545f491): (bound: number) => number {
  let x = seed
  return (bound) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % bound
  }
}

/**
 * Samples the process's RSS and V8 heap every 50 ms until `stop()`, which takes a last sample
 * and returns the highest of each (bytes).
 * (One `process.memoryUsage()` took 120 µs in a Nexmark run: every 10 ms that was 1% of the
 * CPU being measured.)
 */
export function peakMemory(): { stop(): { peakRss: number; peakHeap: number } } {
  let peakRss = 0
  let peakHeap = 0
  const sample = () => {
    const m = process.memoryUsage()
    if (m.rss > peakRss) peakRss = m.rss
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
  }
  sample()
  const sampler = setInterval(sample, 50)
  return {
    stop() {
      clearInterval(sampler)
      sample()
      return { peakRss, peakHeap }
    },
  }
}

/** A Markdown table; columns from `leftColumns` on are right-aligned (numbers). */
export function table(head: string[], rows: string[][], leftColumns: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const right = head.map((_, i) => i >= leftColumns)
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`
  // The delimiter row as Biome's markdown formatter writes it, so `npm run check` accepts the docs.
  const rule = `|${widths.map((w, i) => (right[i] ? ` ${'-'.repeat(w - 1)}: ` : ` :${'-'.repeat(w - 1)} `)).join('|')}|`
  return [line(head), rule, ...rows.map(line)].join('\n')
}
