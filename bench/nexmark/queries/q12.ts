/**
 * Query 12, processing-time windows: how many bids each bidder makes per 10 seconds of
 * processing time (the wall clock when the bid is processed, not the bid's `dateTime`).
 *
 * The DSL's windows are event-time windows, so this is a `process()` step keyed by bidder: it
 * counts into keyed state and sets a processing-time timer at the end of the current window,
 * which emits the count and clears it. Results depend on when records are processed, so they
 * differ from run to run; the correctness test runs on the TestDriver's virtual clock.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q12Row {
  bidder: number
  bidCount: number
  starttime: number
  endtime: number
}

export const Q12_SIZE_MS = 10_000

interface Open {
  start: number
  count: number
}

export function q12(ctx: QueryContext): Query<Q12Row> {
  const out = topic<Q12Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid }) => ({ bidder: bid.bidder }))
    .keyBy((b) => b.bidder, { name: 'bids-by-bidder' })
    .process<Q12Row, Open>({
      name: 'bids-per-processing-window',
      process(_, c) {
        const start = c.processingTime - (c.processingTime % Q12_SIZE_MS)
        const open = c.state.get()
        if (open !== undefined && open.start === start) {
          open.count++
          c.state.set(open)
          return
        }
        // A window whose timer has not fired yet (the clock moved on between two records of a
        // key) is closed here, so a bid never counts in a window it was not processed in.
        if (open !== undefined) emitWindow(c.key, open, c.emit)
        c.state.set({ start, count: 1 })
        c.timers.processingTime(start + Q12_SIZE_MS)
      },
      onTimer(timer, c) {
        const open = c.state.get()
        if (open === undefined || open.start + Q12_SIZE_MS > timer.time) return
        emitWindow(c.key, open, c.emit)
        c.state.delete()
      },
    })
    .to(out)
  return { pipeline: p, output: out }
}

function emitWindow(key: string, open: Open, emit: (row: Q12Row) => void): void {
  emit({
    bidder: Number(key),
    bidCount: open.count,
    starttime: open.start,
    endtime: open.start + Q12_SIZE_MS,
  })
}
