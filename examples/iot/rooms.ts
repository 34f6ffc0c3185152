/**
 * Per-room steps of the IoT pipeline: a minute of a room's readings averaged (a window
 * aggregate over readings joined with the device table, which says which room a sensor is in
 * and the room's threshold), and the HVAC decision on those minutes.
 *
 * The decision has hysteresis: a room starts cooling when a minute's mean temperature is above
 * its threshold, and goes back to automatic only when a minute's mean is 1.5 °C below it. A
 * room wavering around its threshold gets one command, not one a minute.
 */
import type { Aggregator, Processor, Windowed } from 'sluice'
import type { Command, EnrichedReading, RoomClimate } from './types.ts'

/** Back to automatic this far below the threshold, °C. */
export const HYSTERESIS = 1.5
/** A cooling room is set this far below its threshold, °C. */
const COOL_BELOW = 3

export interface RoomMinute {
  building: string
  hvac: string
  high: number | null
  temperatures: number
  temperatureSum: number
  maxTemperature: number | null
  humidities: number
  humiditySum: number
}

export const roomMinute: Aggregator<EnrichedReading, RoomMinute> = {
  init: () => ({
    building: '',
    hvac: '',
    high: null,
    temperatures: 0,
    temperatureSum: 0,
    maxTemperature: null,
    humidities: 0,
    humiditySum: 0,
  }),
  add(m, r) {
    m.building = r.building
    m.hvac = r.hvac
    if (r.kind === 'temperature') {
      m.high = r.high
      m.temperatures++
      m.temperatureSum += r.value
      m.maxTemperature = m.maxTemperature === null ? r.value : Math.max(m.maxTemperature, r.value)
    } else if (r.kind === 'humidity') {
      m.humidities++
      m.humiditySum += r.value
    }
    return m
  },
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits

export function roomClimate(w: Windowed<RoomMinute>): RoomClimate {
  const m = w.value
  return {
    room: w.key,
    building: m.building,
    start: new Date(w.start).toISOString(),
    end: new Date(w.end).toISOString(),
    temperature: m.temperatures === 0 ? null : round(m.temperatureSum / m.temperatures, 2),
    maxTemperature: m.maxTemperature,
    humidity: m.humidities === 0 ? null : round(m.humiditySum / m.humidities, 1),
    readings: m.temperatures + m.humidities,
    high: m.high,
    hvac: m.hvac,
  }
}

/** The state of `room-hvac`, one per room. */
export interface RoomHvac {
  cooling: boolean
  /** Event time of the last command, ISO 8601. */
  since: string
}

/** Commands to the room's HVAC unit when a minute crosses the threshold (keyed by room). */
export function roomHvac(name = 'room-hvac'): Processor<RoomClimate, Command, RoomHvac> {
  return {
    name,
    process(c, ctx) {
      if (c.temperature === null || c.high === null) return
      const s = ctx.state.get() ?? { cooling: false, since: c.end }
      const command = (set: Command['set'], reason: Command['reason']) => {
        const cmd: Command = {
          id: `${c.room}@${c.end}`,
          device: c.hvac,
          room: c.room,
          set,
          reason,
          temperature: c.temperature!,
          at: c.end,
        }
        ctx.emit(cmd, { key: c.hvac })
        ctx.state.set({ cooling: set.mode === 'cool', since: c.end })
      }
      if (!s.cooling && c.temperature > c.high) {
        command({ mode: 'cool', targetTemp: c.high - COOL_BELOW }, 'overheat')
      } else if (s.cooling && c.temperature < c.high - HYSTERESIS) {
        command({ mode: 'auto' }, 'recovered')
      }
    },
  }
}
