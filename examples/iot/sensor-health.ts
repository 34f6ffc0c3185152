/**
 * Per-sensor steps of the IoT pipeline, both `process()` with keyed state (one key per sensor):
 *
 * - `sensorStats`: rolling statistics of the sensor's last 30 readings (5 minutes). A reading
 *   at least 8 standard deviations from their mean and as far from the next reading is a
 *   spike (a glitch); when the next one is close to it, the level moved (a room warming up),
 *   and the room steps judge that. Twelve identical readings in a row (2 minutes) mean the
 *   sensor is stuck: noise makes two equal readings in a row rare (about 1 in 50 at 0.01 °C
 *   resolution), twelve practically impossible.
 * - `sensorSilence`: a processing-time timer per sensor; when it fires and nothing came for
 *   `after` of wall-clock time, while the other sensors moved event time on by `eventTime`,
 *   the sensor is silent. The second condition tells one sensor's outage from the whole input
 *   stalling (a broker or gateway down, a paused feed): then every sensor is quiet in
 *   processing time, but event time stands still, and no sensor is blamed.
 */
import type { Processor } from 'sluice'
import type { Alert, EnrichedReading } from './types.ts'

/** Readings in the rolling window: 5 minutes at one reading per 10 s. */
export const STATS_WINDOW = 30
/** No spike verdict before the window holds this many readings. */
export const STATS_MIN_READINGS = 20
export const SPIKE_Z = 8
export const STUCK_READINGS = 12
/** A gap this long in a sensor's readings (an outage) makes its window stale: start again. */
const STALE_AFTER_MS = 2 * 60_000
/** Below the noise of any sensor here: keeps z finite on a window of equal values. */
const MIN_STD = 0.05

/** The state of `sensor-stats`, one per sensor (queryable while it runs). */
export interface SensorStats {
  /** Recent values, oldest first; outliers and frozen values are left out. */
  window: number[]
  mean: number
  std: number
  /** The last value and how many readings in a row repeated it. */
  last: number | null
  repeats: number
  /** Newest event time seen (ms). */
  lastAt: number
  stuck: boolean
  /** A reading far off the mean, waiting for the next one to say whether it was a glitch. */
  suspect: { value: number; at: string; z: number } | null
}

const iso = (ms: number) => new Date(ms).toISOString()

function summarize(s: SensorStats): void {
  const n = s.window.length
  let sum = 0
  for (const v of s.window) sum += v
  const mean = n === 0 ? 0 : sum / n
  let squares = 0
  for (const v of s.window) squares += (v - mean) ** 2
  s.mean = mean
  s.std = n < 2 ? 0 : Math.sqrt(squares / (n - 1))
}

export function sensorStats(name = 'sensor-stats'): Processor<EnrichedReading, Alert, SensorStats> {
  return {
    name,
    process(r, ctx) {
      const at = Date.parse(r.at)
      // The summary first: the dashboard shows a store's values cut to a few lines.
      const s: SensorStats = ctx.state.get() ?? {
        mean: 0,
        std: 0,
        last: null,
        repeats: 0,
        stuck: false,
        suspect: null,
        lastAt: at,
        window: [],
      }
      if (at - s.lastAt > STALE_AFTER_MS) {
        s.window = []
        s.suspect = null
      }
      const inOrder = at >= s.lastAt
      s.lastAt = Math.max(s.lastAt, at)
      const z = (value: number) =>
        s.window.length < STATS_MIN_READINGS ? 0 : (value - s.mean) / Math.max(s.std, MIN_STD)
      const spike = (value: number, when: string, zv: number, why: string) =>
        ctx.emit({
          kind: 'spike',
          device: r.sensor,
          room: r.room,
          at: when,
          value,
          detail:
            `${value} is ${zv.toFixed(1)} standard deviations from the mean ${s.mean.toFixed(2)} ` +
            `(sd ${s.std.toFixed(3)}) of the last ${s.window.length} readings; ${why}`,
        })
      const keep = (value: number) => {
        s.window.push(value)
        if (s.window.length > STATS_WINDOW) s.window.shift()
        summarize(s)
      }

      if (!inOrder) {
        // A late reading's successors are in the window already: far off them, it is a glitch.
        // Either way it says nothing about whether the sensor repeats itself now.
        const zv = z(r.value)
        if (!s.stuck && Math.abs(zv) >= SPIKE_Z)
          spike(r.value, r.at, zv, 'it came late, after readings back at the mean')
        ctx.state.set(s)
        return
      }

      if (r.value === s.last) {
        s.repeats++
      } else {
        s.repeats = 0
        s.stuck = false
      }
      s.last = r.value
      if (!s.stuck && s.repeats + 1 >= STUCK_READINGS) {
        s.stuck = true
        ctx.emit({
          kind: 'stuck',
          device: r.sensor,
          room: r.room,
          at: r.at,
          value: r.value,
          detail: `${STUCK_READINGS} readings in a row of exactly ${r.value} ${r.unit ?? ''}`.trimEnd(),
        })
        // The repeats are not measurements: the statistics start again once it reads again.
        s.window = []
        s.suspect = null
        summarize(s)
      }
      if (s.stuck) {
        ctx.state.set(s)
        return
      }

      // The reading after a suspect decides it. A glitch stands out on both sides: from the
      // readings before it (the mean) and from the one after it. When the next reading is near
      // the suspect, the level itself moved (a room warming up): not a sensor fault.
      const suspect = s.suspect
      s.suspect = null
      if (suspect) {
        const apart = (suspect.value - r.value) / Math.max(s.std, MIN_STD)
        if (Math.abs(apart) >= SPIKE_Z) {
          spike(
            suspect.value,
            suspect.at,
            suspect.z,
            `the next reading, ${r.value}, is ${Math.abs(apart).toFixed(1)} sd away from it`,
          )
        } else {
          keep(suspect.value)
        }
      }
      const zv = z(r.value)
      if (Math.abs(zv) >= SPIKE_Z) {
        // Left out of the window until decided: one glitch must not widen the next verdicts.
        s.suspect = { value: r.value, at: r.at, z: zv }
      } else {
        keep(r.value)
      }
      ctx.state.set(s)
    },
  }
}

/** The state of `sensor-silence`, one per sensor. */
export interface Silence {
  room: string
  /** Newest event time seen (ms). */
  lastAt: number
  /** Processing time of the last reading (ms). */
  seenAt: number
  /** The pending timer's time, 0 when none is pending. */
  timer: number
  /** Processing time it was reported silent, 0 while it is not. */
  silentSince: number
}

export interface SilenceOptions {
  /** Processing time (ms) without a reading before a sensor counts as silent. */
  after: number
  /** Event time (ms) the other sensors must have moved on past its last reading. */
  eventTime: number
}

export function sensorSilence(
  options: SilenceOptions,
  name = 'sensor-silence',
): Processor<EnrichedReading, Alert, Silence> {
  const { after, eventTime } = options
  // One timer per sensor at a time, moved forward when it fires early: a timer per reading
  // would leave thousands pending for nothing.
  return {
    name,
    process(r, ctx) {
      const at = Date.parse(r.at)
      const s = ctx.state.get() ?? { room: r.room, lastAt: at, seenAt: 0, timer: 0, silentSince: 0 }
      s.room = r.room
      s.lastAt = Math.max(s.lastAt, at)
      s.seenAt = ctx.processingTime
      s.silentSince = 0
      if (s.timer === 0) {
        s.timer = s.seenAt + after
        ctx.timers.processingTime(s.timer)
      }
      ctx.state.set(s)
    },
    onTimer(_timer, ctx) {
      const s = ctx.state.get()
      if (!s) return
      const now = ctx.processingTime
      const quiet = now - s.seenAt
      const movedOn = ctx.watermark - s.lastAt
      if (quiet >= after && movedOn >= eventTime) {
        s.timer = 0
        s.silentSince = now
        ctx.emit({
          kind: 'silent',
          device: ctx.key,
          room: s.room,
          at: iso(s.lastAt),
          value: Math.round(movedOn / 1000),
          detail:
            `no reading for ${Math.round(quiet / 100) / 10} s of processing time while event time moved ` +
            `${Math.round(movedOn / 60_000)} min past its last reading at ${iso(s.lastAt)}`,
        })
      } else {
        // Either a reading came (wait from it), or the whole input is quiet (look again later).
        s.timer = quiet >= after ? now + after : s.seenAt + after
        ctx.timers.processingTime(s.timer)
      }
      ctx.state.set(s)
    },
  }
}
