/**
 * docs/concepts/state.md: keyed state, timers and TTL in process().
 * Checked by test/unit/docs/concepts.test.ts.
 */
import { type Pipeline, pipeline, topic } from 'sluice'

export interface Heartbeat {
  device: string
  at: number
}

export interface Silence {
  device: string
  /** Event time of the device's last heartbeat. */
  since: number
}

export const heartbeats = topic<Heartbeat>('heartbeats', { key: (h) => h.device, timestamp: (h) => h.at })
export const silences = topic<Silence>('silences')

// #region silence
const MINUTE = 60_000

/** A device that sent no heartbeat for a minute of event time. */
export function silentDevices(): Pipeline {
  const p = pipeline('silent-devices')
  p.from(heartbeats)
    .keyed()
    .process<Silence, { last: number }>({
      name: 'last-heartbeat',
      ttl: 7 * 24 * 60 * MINUTE, // forget devices unheard of for a week (processing time)
      process(_heartbeat, ctx) {
        ctx.state.set({ last: ctx.timestamp })
        ctx.timers.eventTime(ctx.timestamp + MINUTE)
      },
      onTimer(timer, ctx) {
        // Every heartbeat set a timer; only the one set by the latest heartbeat means silence.
        const state = ctx.state.get()
        if (state && timer.time === state.last + MINUTE) {
          ctx.emit({ device: ctx.key, since: state.last })
        }
      },
    })
    .to(silences)
  return p
}
// #endregion silence
