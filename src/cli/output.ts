/**
 * Everything the CLI prints goes through here. Data (NDJSON, tables, JSON) goes to stdout;
 * summaries, warnings and errors go to stderr, so `sluice consume t | jq` stays clean.
 */

/** True once stdout's reader went away (`sluice consume t | head`): stop writing, exit 0. */
let stdoutClosed = false

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') {
    stdoutClosed = true
    return
  }
  throw error
})

export function isStdoutClosed(): boolean {
  return stdoutClosed
}

/**
 * Writes to stdout and waits while the pipe is full, so a slow reader slows the command
 * down instead of the process buffering everything in memory.
 */
export async function writeOut(text: string): Promise<void> {
  if (stdoutClosed || text.length === 0) return
  if (!process.stdout.write(text) && !stdoutClosed) await drained(process.stdout)
}

/** Resolves when `stream` can take more, or is gone (its error is handled above). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done)
      stream.off('close', done)
      stream.off('error', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
    stream.on('error', done)
  })
}

export function printErr(line: string): void {
  process.stderr.write(`${line}\n`)
}

export function printError(message: string): void {
  printErr(`sluice: error: ${message}`)
}

const count = new Intl.NumberFormat('en-US')
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

/** `1234567` → `1,234,567`. */
export function formatCount(n: number): string {
  return count.format(Math.round(n))
}

/** Bytes in IEC units, as topic limits are written: `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : decimal.format(value)} ${units[unit]}`
}

/** Elapsed milliseconds for a summary line: `0.42 s`, `12 ms`. */
export function formatElapsed(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`
}

/** Throughput: `n` things in `ms`, per second (rounded; `unit` follows the number). */
export function formatRate(n: number, ms: number, unit: string): string {
  const perSecond = ms > 0 ? (n * 1000) / ms : 0
  return `${formatCount(perSecond)} ${unit}/s`
}

/** Bytes in decimal megabytes, to go with `formatMegabytesPerSecond`: `12.3 MB`. */
export function formatMegabytes(bytes: number): string {
  return `${decimal.format(bytes / 1e6)} MB`
}

/** Bytes per second in decimal megabytes, as throughput is usually quoted: `12.3 MB/s`. */
export function formatMegabytesPerSecond(bytes: number, ms: number): string {
  const perSecond = ms > 0 ? (bytes * 1000) / ms : 0
  return `${decimal.format(perSecond / 1e6)} MB/s`
}

const DURATION_UNITS: Array<[string, number]> = [
  ['w', 604_800_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]

/** Milliseconds in the largest unit `parseDuration` reads back exactly: `604800000` → `7d`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of DURATION_UNITS) {
    // Weeks read oddly for the common "7d" / "14d"; prefer days unless it is many weeks.
    if (unit === 'w' && ms < 8 * size) continue
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/**
 * Left-aligned columns separated by two spaces; columns listed in `right` are right-aligned
 * (numbers). The first row is the header.
 */
export function formatTable(rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths: number[] = []
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length)
  }
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  )
  return `${lines.join('\n')}\n`
}
