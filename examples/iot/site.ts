/**
 * The simulated site of the IoT demo: buildings with rooms, each room with two temperature
 * sensors, one humidity sensor and an HVAC unit, and the physics their readings follow.
 *
 * A room's temperature is its base for its use (offices 21.5 °C, server rooms 19 °C, …), a
 * daily cycle (warmest mid-afternoon, coldest at night; wide in storage, narrow in server
 * rooms), a slow random wander shared by the room's sensors, and — during an injected case — an
 * overheat. Each sensor adds its own calibration offset, a slow drift (a fraction of a degree
 * per day) and Gaussian noise, and reports with a sensor's resolution (0.01 °C, 0.1 %RH).
 */
import { between, normal, type Random } from './random.ts'
import type { Device, DeviceKind } from './types.ts'

export type SensorKind = Exclude<DeviceKind, 'hvac'>

interface RoomUse {
  use: string
  /** Mean temperature, °C. */
  base: number
  /** Half the daily swing, °C. */
  amplitude: number
  /** Overheat threshold, °C. */
  high: number
  /** Mean relative humidity, %. */
  humidity: number
}

/** Room uses, in the order rooms are numbered in every building. */
const USES: readonly RoomUse[] = [
  { use: 'office', base: 21.5, amplitude: 0.8, high: 25.5, humidity: 42 },
  { use: 'office', base: 21.5, amplitude: 0.8, high: 25.5, humidity: 42 },
  { use: 'meeting', base: 22, amplitude: 1, high: 26, humidity: 45 },
  { use: 'server', base: 19, amplitude: 0.4, high: 24, humidity: 38 },
  { use: 'lab', base: 21, amplitude: 0.8, high: 25, humidity: 48 },
  { use: 'storage', base: 17, amplitude: 2.5, high: 24, humidity: 55 },
]

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** An overheat in progress or scheduled: a ramp up, a hold that wavers around its level, a ramp down. */
export interface Overheat {
  start: number
  /** End of the ramp up. */
  holdFrom: number
  /** Start of the ramp down. */
  holdUntil: number
  end: number
  /** Added to the room's temperature during the hold, before the waver. */
  peak: number
  waver: number
  waverPeriod: number
}

export class Room {
  readonly id: string
  readonly building: string
  readonly use: RoomUse
  readonly sensors: Sensor[] = []
  readonly hvac: string
  overheat: Overheat | null = null
  /** No new case in this room (or on its sensors) before this event time. */
  busyUntil = 0
  #wander = 0
  #wanderMinute = Number.NEGATIVE_INFINITY
  readonly #rand: Random

  constructor(id: string, building: string, use: RoomUse, rand: Random) {
    this.id = id
    this.building = building
    this.use = use
    this.hvac = `${id}-hvac`
    this.#rand = rand
  }

  /** The slow wander, stepped once a minute of event time (callers ask in time order). */
  #wanderAt(t: number): number {
    const minute = Math.floor(t / MINUTE)
    if (this.#wanderMinute === Number.NEGATIVE_INFINITY) this.#wanderMinute = minute
    while (this.#wanderMinute < minute) {
      this.#wander = 0.98 * this.#wander + 0.03 * normal(this.#rand)
      this.#wanderMinute++
    }
    return this.#wander
  }

  /** The room's temperature without any overheat: what an overheat ramps up from. */
  normalTemperature(t: number): number {
    const hour = (t % DAY) / HOUR
    return this.use.base + this.use.amplitude * Math.cos((2 * Math.PI * (hour - 15)) / 24) + this.#wanderAt(t)
  }

  #overheatAt(t: number): number {
    const o = this.overheat
    if (!o || t < o.start || t >= o.end) return 0
    if (t < o.holdFrom) return (o.peak * (t - o.start)) / (o.holdFrom - o.start)
    if (t < o.holdUntil) return o.peak + o.waver * Math.sin((2 * Math.PI * (t - o.holdFrom)) / o.waverPeriod)
    return (o.peak * (o.end - t)) / (o.end - o.holdUntil)
  }

  temperature(t: number): number {
    return this.normalTemperature(t) + this.#overheatAt(t)
  }

  /** Most humid before dawn; a hot room dries out. */
  humidity(t: number): number {
    const hour = (t % DAY) / HOUR
    return (
      this.use.humidity +
      3 * Math.cos((2 * Math.PI * (hour - 5)) / 24) +
      4 * this.#wanderAt(t) -
      0.5 * this.#overheatAt(t)
    )
  }
}

export class Sensor {
  readonly id: string
  readonly room: Room
  readonly kind: SensorKind
  /** Standard deviation of the reading noise. */
  readonly noise: number
  readonly #offset: number
  /** Calibration drift per day. */
  readonly #drift: number
  readonly #since: number
  /** Event time of the next reading. */
  next: number
  /** No new case on this sensor before this event time. */
  busyUntil = 0
  /** While stuck: the value it repeats, until when. */
  stuck: { value: number; until: number } | null = null
  /** While silent (an outage): no readings before this time. */
  silentUntil = 0
  /** A spike to add to the reading at exactly this time. */
  spike: { at: number; size: number } | null = null
  /** The last value reported (what a stuck sensor repeats). */
  last = Number.NaN

  constructor(id: string, room: Room, kind: SensorKind, since: number, rand: Random) {
    this.id = id
    this.room = room
    this.kind = kind
    const temperature = kind === 'temperature'
    this.noise = temperature ? between(rand, 0.08, 0.15) : between(rand, 0.4, 0.8)
    this.#offset = (temperature ? 0.25 : 2) * normal(rand)
    this.#drift = (temperature ? 0.15 : 0.5) * normal(rand)
    this.#since = since
    this.next = since + Math.floor(rand() * 10_000)
  }

  /** What the sensor reports at `t`, with its resolution. */
  read(t: number, rand: Random): number {
    if (this.stuck && t < this.stuck.until) return this.stuck.value
    this.stuck = null
    const days = (t - this.#since) / DAY
    const truth = this.kind === 'temperature' ? this.room.temperature(t) : this.room.humidity(t)
    let value = truth + this.#offset + this.#drift * days + this.noise * normal(rand)
    if (this.spike?.at === t) {
      value += this.spike.size
      this.spike = null
    }
    this.last =
      this.kind === 'temperature'
        ? Math.round(value * 100) / 100
        : Math.round(Math.min(99, Math.max(1, value)) * 10) / 10
    return this.last
  }

  device(updatedAt: string): Device {
    const r = this.room
    return {
      id: this.id,
      building: r.building,
      room: r.id,
      kind: this.kind,
      unit: this.kind === 'temperature' ? '°C' : '%RH',
      high: this.kind === 'temperature' ? r.use.high : 65,
      hvac: r.hvac,
      updatedAt,
    }
  }
}

/** Builds `buildings` × 6 rooms, each with sensors t1, t2 (temperature) and h1 (humidity). */
export function buildSite(buildings: readonly string[], since: number, rand: Random): Room[] {
  const rooms: Room[] = []
  for (const building of buildings) {
    USES.forEach((use, i) => {
      const room = new Room(`${building}-${String(i + 1).padStart(2, '0')}`, building, use, rand)
      room.sensors.push(
        new Sensor(`${room.id}-t1`, room, 'temperature', since, rand),
        new Sensor(`${room.id}-t2`, room, 'temperature', since, rand),
        new Sensor(`${room.id}-h1`, room, 'humidity', since, rand),
      )
      rooms.push(room)
    })
  }
  return rooms
}

/** The device table: every sensor, and each room's HVAC unit. */
export function deviceTable(rooms: readonly Room[], updatedAt: string): Device[] {
  const rows: Device[] = []
  for (const room of rooms) {
    for (const s of room.sensors) rows.push(s.device(updatedAt))
    rows.push({
      id: room.hvac,
      building: room.building,
      room: room.id,
      kind: 'hvac',
      unit: null,
      high: null,
      hvac: room.hvac,
      updatedAt,
    })
  }
  return rows
}
