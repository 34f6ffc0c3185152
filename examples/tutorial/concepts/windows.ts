/**
 * docs/concepts/windows.md: the four window shapes, lateness, emit modes, aggregators.
 * Checked by test/unit/docs/concepts.test.ts.
 */
import {
  type Aggregator,
  avg,
  count,
  type Pipeline,
  pipeline,
  session,
  sliding,
  topic,
  tumbling,
  type Windowed,
} from 'sluice'

export interface Click {
  user: string
  page: string
  ms: number
  at: number
}

export const clicks = topic<Click>('clicks', { key: (c) => c.user, timestamp: (c) => c.at })
export const perMinute = topic<Windowed<number>>('clicks-per-minute')
export const lateClicks = topic<Click>('clicks-late')
export const loadTimes = topic<Windowed<number | null>>('load-times')
export const visits = topic<Windowed<Visit>>('visits')

// #region tumbling
export function clicksPerMinute(): Pipeline {
  const p = pipeline('clicks-per-minute')
  p.from(clicks, { watermark: { maxOutOfOrder: '10s' } })
    .keyBy((c) => c.user, { name: 'by-user' })
    .window(tumbling({ size: '1m' }), { allowedLateness: '30s', late: lateClicks })
    .aggregate(count(), { name: 'per-user-minute' })
    .to(perMinute)
  return p
}
// #endregion tumbling

// #region sliding
export function loadTimePerPage(): Pipeline {
  const p = pipeline('load-times')
  p.from(clicks)
    .keyBy((c) => c.page, { name: 'by-page' })
    .window(sliding({ size: '5m', every: '1m' }), { emit: 'update' })
    .aggregate(
      avg((c: Click) => c.ms),
      { name: 'load-time' },
    )
    .to(loadTimes)
  return p
}
// #endregion sliding

// #region session
export interface Visit {
  clicks: number
  pages: string[]
}

const visit: Aggregator<Click, Visit> = {
  init: () => ({ clicks: 0, pages: [] }),
  add: (v, c) => ({ clicks: v.clicks + 1, pages: v.pages.includes(c.page) ? v.pages : [...v.pages, c.page] }),
  // Sessions merge when a click bridges two of them: merge is required.
  merge: (a, b) => ({ clicks: a.clicks + b.clicks, pages: [...new Set([...a.pages, ...b.pages])] }),
}

export function userVisits(): Pipeline {
  const p = pipeline('user-visits')
  p.from(clicks, { watermark: { maxOutOfOrder: '1m' } })
    .keyed()
    .window(session({ gap: '30m' }))
    .aggregate(visit, { name: 'visits' })
    .to(visits)
  return p
}
// #endregion session
