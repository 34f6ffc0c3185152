/**
 * The records of the IoT demo: what sensors send, the device table, and what the pipeline
 * writes (alerts, room climate per minute, commands to HVAC units).
 */
import { z } from 'zod'

/** What a sensor sends: one value at one time (the MQTT payload too). */
export const Reading = z.object({
  sensor: z.string(),
  at: z.string().datetime(),
  value: z.number(),
})
export type Reading = z.infer<typeof Reading>

/** A row of the device table (compacted topic, keyed by `id`). */
export const Device = z.object({
  id: z.string(),
  building: z.string(),
  room: z.string(),
  kind: z.enum(['temperature', 'humidity', 'hvac']),
  /** The unit of a sensor's readings; null for an HVAC unit. */
  unit: z.string().nullable(),
  /** The top of a sensor's normal range; for temperature sensors, the room's overheat threshold. */
  high: z.number().nullable(),
  /** The room's HVAC unit, which takes the commands (an HVAC unit names itself). */
  hvac: z.string(),
  /** When this version of the row became valid (ISO 8601): the table's event time. */
  updatedAt: z.string().datetime(),
})
export type Device = z.infer<typeof Device>
export type DeviceKind = Device['kind']

/** A reading with its device's row: what the per-sensor and per-room steps work on. */
export interface EnrichedReading extends Reading {
  room: string
  building: string
  kind: DeviceKind
  unit: string | null
  high: number | null
  hvac: string
}

export type AlertKind = 'spike' | 'stuck' | 'silent' | 'overheat'

export interface Alert {
  kind: AlertKind
  /** The sensor; for an overheat, the room's HVAC unit. */
  device: string
  room: string
  /**
   * Event time, ISO 8601: the spike's reading, the reading that completed the stuck run, the
   * last reading before the silence, the end of the minute the room crossed its threshold.
   */
  at: string
  /** The reading, the silence so far (s of event time), or the room's mean temperature. */
  value: number
  detail: string
}

/** One minute of a room: its sensors' readings averaged. */
export interface RoomClimate {
  room: string
  building: string
  /** The minute, ISO 8601. */
  start: string
  end: string
  /** Mean and highest temperature reading, °C (null when no temperature reading came). */
  temperature: number | null
  maxTemperature: number | null
  /** Mean relative humidity, % (null when no humidity reading came). */
  humidity: number | null
  readings: number
  /** The overheat threshold from the device table. */
  high: number | null
  hvac: string
}

/** What an HVAC unit is told to do: published to `<prefix>/devices/<device>/set` over MQTT. */
export interface Command {
  /** Unique per command, so a device can ignore a repeat (the MQTT sink is at-least-once). */
  id: string
  device: string
  room: string
  set: { mode: 'cool'; targetTemp: number } | { mode: 'auto' }
  reason: 'overheat' | 'recovered'
  /** The room's mean temperature that crossed the threshold, °C. */
  temperature: number
  /** Event time of the decision (the end of the room's minute), ISO 8601. */
  at: string
}
