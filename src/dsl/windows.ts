import { type Duration, parseDuration } from '../util/duration.ts'

/** Fixed-size, non-overlapping windows: `[n*size, (n+1)*size)`. */
export interface TumblingWindows {
  readonly kind: 'tumbling'
  readonly size: number
}

/** Fixed-size windows starting every `advance`: each record is in `size / advance` windows. */
export interface HoppingWindows {
  readonly kind: 'hopping'
  readonly size: number
  readonly advance: number
}

/** Per-key activity sessions: a gap of inactivity longer than `gap` closes a session. */
export interface SessionWindows {
  readonly kind: 'session'
  readonly gap: number
}

export type WindowSpec = TumblingWindows | HoppingWindows | SessionWindows

/** A window's bounds, `[start, end)` in event-time ms. */
export interface Window {
  readonly start: number
  readonly end: number
}

/** @example tumbling({ size: '1m' }) */
export function tumbling(options: { size: Duration }): TumblingWindows {
  return { kind: 'tumbling', size: positive(options.size, 'tumbling window size') }
}

/** @example hopping({ size: '10m', advance: '1m' }) */
export function hopping(options: { size: Duration; advance: Duration }): HoppingWindows {
  const size = positive(options.size, 'hopping window size')
  const advance = positive(options.advance, 'hopping window advance')
  if (advance > size || size % advance !== 0) {
    throw new RangeError(`hopping window: size (${size} ms) must be a multiple of advance (${advance} ms)`)
  }
  return { kind: 'hopping', size, advance }
}

/**
 * Sliding windows as Flink names them: a window of `size` that slides by `every`. The same
 * windows as `hopping({ size, advance: every })`.
 * @example sliding({ size: '10m', every: '1m' })
 */
export function sliding(options: { size: Duration; every: Duration }): HoppingWindows {
  return hopping({ size: options.size, advance: options.every })
}

/** @example session({ gap: '30m' }) */
export function session(options: { gap: Duration }): SessionWindows {
  return { kind: 'session', gap: positive(options.gap, 'session gap') }
}

function positive(d: Duration, what: string): number {
  const ms = parseDuration(d, what)
  if (ms <= 0) throw new RangeError(`${what} must be greater than 0`)
  return ms
}

/** Start times of the fixed windows that contain `timestamp`, oldest first. */
export function windowStarts(spec: TumblingWindows | HoppingWindows, timestamp: number, out: number[]): void {
  out.length = 0
  if (spec.kind === 'tumbling') {
    out.push(timestamp - mod(timestamp, spec.size))
    return
  }
  const last = timestamp - mod(timestamp, spec.advance)
  for (let start = last - spec.size + spec.advance; start <= last; start += spec.advance) out.push(start)
}

/** `a` modulo `b`, never negative (event times before 1970 are negative). */
export function mod(a: number, b: number): number {
  return ((a % b) + b) % b
}
