/** Numbers, durations and times for people. */

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const one = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  const a = Math.abs(n)
  if (a >= 1e9) return `${one.format(n / 1e9)}G`
  if (a >= 1e6) return `${one.format(n / 1e6)}M`
  if (a >= 1e5) return `${whole.format(n / 1e3)}k`
  return whole.format(n)
}

export function rate(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  if (n > 0 && n < 10) return one.format(n)
  return count(n)
}

/** A latency in ms: `0.42 ms`, `12 ms`, `1.3 s`. */
export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  if (n < 1) return `${n.toFixed(2)} ms`
  if (n < 10) return `${n.toFixed(1)} ms`
  if (n < 1000) return `${Math.round(n)} ms`
  return duration(n)
}

/** A span of time: `4 s`, `2.5 min`, `3 h`. */
export function duration(n: number): string {
  if (!Number.isFinite(n)) return '–'
  if (n < 1000) return `${Math.round(n)} ms`
  if (n < 60_000) return `${one.format(n / 1000)} s`
  if (n < 3_600_000) return `${one.format(n / 60_000)} min`
  if (n < 86_400_000) return `${one.format(n / 3_600_000)} h`
  return `${one.format(n / 86_400_000)} d`
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** An event time: `12:00:03.250`, with the date when it is not today. */
export function time(t: number | null | undefined): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return '–'
  const d = new Date(t)
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${
    d.getMilliseconds() === 0 ? '' : `.${pad(d.getMilliseconds(), 3)}`
  }`
  const today = new Date()
  if (d.toDateString() === today.toDateString()) return clock
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}`
}

/** An event time to the second, for tight spots: `12:00:03`. */
export function clock(t: number | null | undefined): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return '–'
  const d = new Date(t)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** An axis tick: whole numbers grouped, fractions with up to two decimals. */
export function tick(n: number): string {
  if (Number.isInteger(n)) return count(n)
  return String(Math.round(n * 100) / 100)
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${one.format(n / 1024)} KiB`
  if (n < 1024 ** 3) return `${one.format(n / 1024 ** 2)} MiB`
  return `${one.format(n / 1024 ** 3)} GiB`
}

/** A JSON-ish value on one line, cut at `max` characters. */
export function preview(value: unknown, max = 160): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  if (text === undefined) return String(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
