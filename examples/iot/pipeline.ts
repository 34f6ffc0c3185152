/**
 * Building monitoring on sensor readings: per-sensor health, per-room climate, and commands
 * to the rooms' HVAC units.
 *
 * - Each reading is joined with the device table (a compacted topic: room, kind, threshold,
 *   HVAC unit per device), as of the reading's event time.
 * - sensor-stats: rolling statistics per sensor; spike alerts (a reading ≥ 8 standard
 *   deviations from the mean of the last 30, and as far from the next one) and stuck alerts
 *   (12 identical readings in a row).
 * - sensor-silence: processing-time timers per sensor; silent alerts.
 * - room-climate: a 1-minute tumbling window per room (mean and highest temperature, mean
 *   humidity), written to iot-room-climate.
 * - room-hvac: a room above its threshold is told to cool (with hysteresis: back to automatic
 *   1.5 °C below it), on device-commands; the first command of an overheat is also an alert.
 *
 *   sluice demo iot                          (feeds generated readings, scores the alerts)
 *   sluice run examples/iot/pipeline.ts      (reads iot-readings and iot-devices, however they arrive)
 */
import { type Duration, type Pipeline, parseDuration, pipeline, topic, tumbling } from 'sluice'
import { roomClimate, roomHvac, roomMinute } from './rooms.ts'
import { sensorSilence, sensorStats } from './sensor-health.ts'
import { type Alert, type Command, Device, type EnrichedReading, Reading, type RoomClimate } from './types.ts'

export type { Alert, Command, Device, Reading, RoomClimate } from './types.ts'

/**
 * The topics; `sluice demo iot` on Kafka gives each run its own (a suffix), so a run never
 * reads the results or the state of an earlier one. Readings and devices have the same
 * partition count and key (the device id): the join needs them co-partitioned.
 */
export function iotTopics(suffix = '') {
  return {
    readings: topic(`iot-readings${suffix}`, {
      schema: Reading,
      key: (r) => r.sensor,
      timestamp: (r) => r.at,
      partitions: 4,
    }),
    devices: topic(`iot-devices${suffix}`, {
      schema: Device,
      key: (d) => d.id,
      timestamp: (d) => d.updatedAt,
      partitions: 4,
    }),
    alerts: topic<Alert>(`iot-alerts${suffix}`, { key: (a) => a.device }),
    climate: topic<RoomClimate>(`iot-room-climate${suffix}`, { key: (c) => c.room }),
    commands: topic<Command>(`device-commands${suffix}`, { key: (c) => c.device }),
  }
}
export type IotTopics = ReturnType<typeof iotTopics>
export const { readings, devices, alerts, climate, commands } = iotTopics()

export interface IotOptions {
  /** Processing time without a reading before a sensor is silent (default 3 min). */
  silentAfter?: Duration
  /** …while the other sensors moved event time on by this much past its last reading (default 3 min). */
  silentAfterEventTime?: Duration
}

/** Builds the pipeline; `sluice run` runs the one this module exports by default. */
export function iotPipeline(
  name = 'iot-monitoring',
  topics: IotTopics = iotTopics(),
  options: IotOptions = {},
): Pipeline {
  const p = pipeline(name)
  const deviceTable = p.table(topics.devices, { name: 'devices' })
  // Up to a minute out of order is on time; later readings (a gateway's old buffer) still
  // count for the per-sensor steps, but the room windows have closed and count them as late.
  const enriched = p
    .from(topics.readings, { watermark: { maxOutOfOrder: '1m', idleAfter: '30s' } })
    .join(
      deviceTable,
      (r, d): EnrichedReading => ({
        ...r,
        room: d.room,
        building: d.building,
        kind: d.kind,
        unit: d.unit,
        high: d.high,
        hvac: d.hvac,
      }),
      { name: 'with-device' },
    )
    .keyed()

  const statsAlerts = enriched.process(sensorStats())
  const silentAlerts = enriched.process(
    sensorSilence({
      after: parseDuration(options.silentAfter ?? '3m', 'silentAfter'),
      eventTime: parseDuration(options.silentAfterEventTime ?? '3m', 'silentAfterEventTime'),
    }),
  )

  const minutes = enriched
    .keyBy((r) => r.room)
    .window(tumbling({ size: '1m' }))
    .aggregate(roomMinute, { name: 'room-climate' })
    .map(roomClimate)
  minutes.to(topics.climate)

  const hvac = minutes.keyed().process(roomHvac())
  hvac.to(topics.commands)
  const overheats = hvac
    .filter((c) => c.reason === 'overheat')
    .map(
      (c): Alert => ({
        kind: 'overheat',
        device: c.device,
        room: c.room,
        at: c.at,
        value: c.temperature,
        detail: `mean ${c.temperature} °C in the minute to ${c.at}; told ${c.device} to cool to ${'targetTemp' in c.set ? c.set.targetTemp : '?'} °C`,
      }),
    )

  statsAlerts.merge(silentAlerts).to(topics.alerts)
  // A sink of its own, not a merge: merging a stream from after keyBy with one from before it
  // would put both in one subtopology that reads its own repartition topic, whose watermark
  // then waits for itself.
  overheats.to(topics.alerts)
  return p
}

export default iotPipeline()
