/**
 * docs/concepts/time-and-watermarks.md: event time, watermark options, late records.
 * Checked by test/unit/docs/concepts.test.ts.
 */
import { count, type Pipeline, pipeline, topic, tumbling, type Windowed } from 'sluice'

export interface Reading {
  sensor: string
  celsius: number
  /** When the sensor took the reading, ISO 8601. */
  at: string
}

// #region source
export const readings = topic<Reading>('readings', { key: (r) => r.sensor, timestamp: (r) => r.at })
export const perMinute = topic<Windowed<number>>('readings-per-minute')
export const lateReadings = topic<Reading>('readings-late')

export function readingsPerMinute(): Pipeline {
  const p = pipeline('readings-per-minute')
  p.from(readings, {
    watermark: {
      maxOutOfOrder: '5s', // a reading up to 5 s behind the newest one is on time
      idleAfter: '1m', // a partition quiet for a minute stops holding event time back…
      advance: 'processing-time', // …and, while all are quiet, event time follows the clock
    },
  })
    .keyed()
    .window(tumbling({ size: '1m' }), { late: lateReadings })
    .aggregate(count(), { name: 'per-minute' })
    .to(perMinute)
  return p
}
// #endregion source
