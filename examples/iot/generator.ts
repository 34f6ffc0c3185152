/**
 * Synthetic sensor readings for the IoT demo: seeded and deterministic, so a run can be scored
 * against the cases it injected.
 *
 * The site (site.ts): buildings of six rooms, each room with two temperature sensors and one
 * humidity sensor reading every 10 s of event time (±1 s), and an HVAC unit. Event time is
 * simulated and depends on the seed only: with the default two buildings (36 sensors) it
 * advances about 0.28 s per reading, whatever the delivery rate. About 3% of readings are
 * delivered 5–45 s of event time late, and 0.3% 1.5–5 min late (a gateway flushing its buffer:
 * behind the pipeline's watermark).
 *
 * Injected cases, one every 1–3 minutes of event time after a 10-minute warm-up, the four kinds
 * in turn, each recorded with its sensor or room and its span:
 * - spike: one reading 15–30 noise deviations off (a glitch);
 * - stuck: a sensor repeats its last value for 20–45 min (a frozen sensor);
 * - silent: a sensor sends nothing for 30–90 min (an outage);
 * - overheat: a room warms 0.25–0.4 °C a minute to 0.8–2 °C above its threshold, stays there
 *   for 15–50 min wavering by 0.6–1.2 °C (dipping under the threshold now and then: a bare
 *   threshold would flap), then cools down as slowly.
 * A case never overlaps another on the same sensor, and an overheat never overlaps a case on
 * one of its room's sensors.
 */
import { between, pick, type Random, seeded } from './random.ts'
import { buildSite, deviceTable, type Room, type Sensor } from './site.ts'
import type { AlertKind, Device, Reading } from './types.ts'

export type { Device, Reading } from './types.ts'

/** The kinds of injected cases are the kinds of alerts the pipeline raises. */
export type CaseKind = AlertKind
export const CASE_KINDS: readonly CaseKind[] = ['spike', 'stuck', 'silent', 'overheat']

export interface InjectedCase {
  kind: CaseKind
  /** The sensor (spike, stuck, silent); null for an overheat, which is a room's. */
  sensor: string | null
  room: string
  /**
   * Event time (ms) the case starts: the spike's reading, the first stuck reading, the first
   * missed reading, the start of the warm-up ramp.
   */
  start: number
  /** The spike's reading, the end of the stuck or silent span, the end of the cool-down ramp. */
  end: number
  /** Overheat: when the warm-up ramp reaches the room's threshold (about: rooms wander); else null. */
  hotAt: number | null
}

export interface GeneratorOptions {
  seed?: number
  /** Buildings of six rooms (default 2: 36 sensors). */
  buildings?: number
  /** Event time of the first reading, ms (default 2026-01-01T00:00:00Z). */
  startAt?: number
  /** Inject cases only before this many readings (default: always). */
  injectUntil?: number
}

export const READING_INTERVAL_MS = 10_000
const JITTER_MS = 1_000
const LATE_RATE = 0.03
const VERY_LATE_RATE = 0.003
const MINUTE = 60_000
const WARM_UP_MS = 10 * MINUTE
/** A sensor's rolling statistics need this long after a case to settle before the next one. */
const SETTLE_MS = 10 * MINUTE
const BUILDINGS = ['north', 'south', 'east', 'west', 'central', 'annex']

export class IotGenerator {
  /** The injected cases so far, in the order they were injected. */
  readonly cases: InjectedCase[] = []
  /** The device table, valid from a day before the first reading. */
  readonly devices: Device[]
  readonly #rand: Random
  readonly #rooms: Room[]
  readonly #sensors: Sensor[]
  readonly #injectUntil: number
  /** Event time of the first reading (ms). */
  readonly startAt: number
  #clock: number
  #generated = 0
  #nextCase: number
  #slot = 0
  /** Readings held back for late delivery, by delivery time. */
  #delayed: { due: number; reading: Reading }[] = []
  #ready: Reading[] = []
  #readyAt = 0

  constructor(options: GeneratorOptions = {}) {
    this.#rand = seeded(options.seed ?? 1)
    this.startAt = options.startAt ?? Date.parse('2026-01-01T00:00:00Z')
    this.#clock = this.startAt
    this.#injectUntil = options.injectUntil ?? Number.POSITIVE_INFINITY
    const buildings = Math.max(1, Math.min(BUILDINGS.length, options.buildings ?? 2))
    this.#rooms = buildSite(BUILDINGS.slice(0, buildings), this.startAt, this.#rand)
    this.#sensors = this.#rooms.flatMap((r) => r.sensors)
    this.devices = deviceTable(this.#rooms, new Date(this.startAt - 24 * 60 * MINUTE).toISOString())
    this.#nextCase = this.startAt + WARM_UP_MS
  }

  /** Readings per second of event time, over all sensors: how fast event time moves per reading. */
  get readingsPerSecond(): number {
    return (this.#sensors.length * 1000) / READING_INTERVAL_MS
  }

  /** Readings generated so far (delivered or held back). */
  get generated(): number {
    return this.#generated
  }

  /** Event time (ms) the generator has reached. */
  get clock(): number {
    return this.#clock
  }

  /** The next reading in delivery order (mostly event-time order, some late). */
  next(): Reading {
    while (this.#readyAt >= this.#ready.length) {
      this.#ready.length = 0
      this.#readyAt = 0
      this.#step()
    }
    return this.#ready[this.#readyAt++]!
  }

  #step(): void {
    let sensor = this.#sensors[0]!
    for (const s of this.#sensors) if (s.next < sensor.next) sensor = s
    const at = sensor.next
    this.#clock = at
    sensor.next = at + READING_INTERVAL_MS + Math.round(between(this.#rand, -JITTER_MS, JITTER_MS))
    if (this.#delayed.length > 0 && this.#delayed[0]!.due <= at) {
      const due = this.#delayed.filter((d) => d.due <= at)
      this.#delayed = this.#delayed.filter((d) => d.due > at)
      for (const d of due) this.#ready.push(d.reading)
    }
    if (at >= this.#nextCase && this.#generated < this.#injectUntil) {
      this.#inject(CASE_KINDS[this.#slot++ % CASE_KINDS.length]!)
      this.#nextCase = at + Math.round(between(this.#rand, 1, 3) * MINUTE)
    }
    if (at < sensor.silentUntil) return
    const reading = { sensor: sensor.id, at: new Date(at).toISOString(), value: sensor.read(at, this.#rand) }
    this.#generated++
    const r = this.#rand()
    if (r < LATE_RATE + VERY_LATE_RATE) {
      const delay =
        r < VERY_LATE_RATE ? between(this.#rand, 1.5, 5) * MINUTE : between(this.#rand, 5_000, 45_000)
      this.#delayed.push({ due: at + Math.round(delay), reading })
      this.#delayed.sort((x, y) => x.due - y.due)
    } else {
      this.#ready.push(reading)
    }
  }

  /** Schedules one case of `kind` on a sensor or room with nothing else under way. */
  #inject(kind: CaseKind): void {
    const now = this.#clock
    if (kind === 'overheat') {
      const free = this.#rooms.filter((r) => r.busyUntil <= now && r.sensors.every((s) => s.busyUntil <= now))
      if (free.length === 0) return
      const room = pick(this.#rand, free)
      const start = now + Math.round(between(this.#rand, 0, MINUTE))
      const normal = room.normalTemperature(now)
      const peak = room.use.high + between(this.#rand, 0.8, 2) - normal
      // 0.25–0.4 °C a minute up and down, as a room whose cooling failed warms: a steeper ramp
      // would look like a glitch to the sensors' rolling statistics.
      const ramp = () => Math.max(10 * MINUTE, Math.round((peak / between(this.#rand, 0.25, 0.4)) * MINUTE))
      const rampUp = ramp()
      const holdFrom = start + rampUp
      // Whole waver periods: the hold ends where it began, so the cool-down starts without a jump.
      const waverPeriod = Math.round(between(this.#rand, 15, 25) * MINUTE)
      const holdUntil = holdFrom + waverPeriod * (1 + Math.floor(this.#rand() * 2))
      const end = holdUntil + ramp()
      room.overheat = {
        start,
        holdFrom,
        holdUntil,
        end,
        peak,
        waver: between(this.#rand, 0.6, 1.2),
        waverPeriod,
      }
      const hotAt = start + Math.round((rampUp * Math.max(0, room.use.high - normal)) / peak)
      room.busyUntil = end + SETTLE_MS
      for (const s of room.sensors) s.busyUntil = end + SETTLE_MS
      this.cases.push({ kind, sensor: null, room: room.id, start, end, hotAt })
      return
    }
    const free = this.#sensors.filter(
      (s) => s.busyUntil <= now && s.room.busyUntil <= now && s.silentUntil <= s.next,
    )
    if (free.length === 0) return
    const sensor = pick(this.#rand, free)
    // Every case begins at the sensor's next reading, so its start is a time a reading has.
    const start = sensor.next
    let end = start
    if (kind === 'spike') {
      const sign = this.#rand() < 0.5 ? -1 : 1
      sensor.spike = { at: start, size: sign * between(this.#rand, 15, 30) * sensor.noise }
    } else if (kind === 'stuck') {
      end = start + Math.round(between(this.#rand, 20, 45) * MINUTE)
      sensor.stuck = { value: sensor.last, until: end }
    } else {
      end = start + Math.round(between(this.#rand, 30, 90) * MINUTE)
      sensor.silentUntil = end
    }
    sensor.busyUntil = end + SETTLE_MS
    this.cases.push({ kind, sensor: sensor.id, room: sensor.room.id, start, end, hotAt: null })
  }
}
