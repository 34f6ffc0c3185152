/**
 * What a task measures about itself, cheap enough to leave on: two timestamps per record
 * into a flat array, turned into latency histograms when the record's commit lands.
 *
 * - `latency`: log time → output committed. The log time is the record's timestamp in its
 *   source topic — its append time unless its producer set one. Measured where records
 *   enter from user topics (a repartition hop's records carry event time instead).
 * - `eventLatency`: event time → output committed, at every task: how far results trail the
 *   events they are about (this includes waiting for windows to close and for watermarks).
 * - `busyMs`: time spent processing records, for the processing time per record.
 *
 * Records of one collect land together; collects land in order (every runner calls
 * `collected()` at its collect and `landed()` when that commit is durable).
 */
import { Histogram } from './histogram.ts'

interface Batch {
  logTimes: Float64Array<ArrayBuffer>
  eventTimes: Float64Array<ArrayBuffer>
  n: number
}

export class TaskMetrics {
  readonly enabled: boolean
  readonly latency = new Histogram()
  readonly eventLatency = new Histogram()
  busyMs = 0
  /** Time processing waited for mapAsync calls to finish (a slow service holding input back). */
  blockedMs = 0
  #logTimes: Float64Array<ArrayBuffer> = new Float64Array(1024)
  #eventTimes: Float64Array<ArrayBuffer> = new Float64Array(1024)
  #n = 0
  readonly #collected: Batch[] = []
  /** Arrays of landed batches, reused so steady state allocates nothing. */
  readonly #spare: Batch[] = []

  constructor(enabled = true) {
    this.enabled = enabled
  }

  /** A record was processed. `logTime` NaN: it came through a repartition topic. */
  observe(logTime: number, eventTime: number): void {
    if (this.#n === this.#logTimes.length) {
      const grow = (a: Float64Array<ArrayBuffer>) => {
        const b = new Float64Array(a.length * 2)
        b.set(a)
        return b
      }
      this.#logTimes = grow(this.#logTimes)
      this.#eventTimes = grow(this.#eventTimes)
    }
    this.#logTimes[this.#n] = logTime
    this.#eventTimes[this.#n] = eventTime
    this.#n++
  }

  /** The records observed so far go into the commit being collected. */
  collected(): void {
    if (!this.enabled) return
    const spare = this.#spare.pop()
    this.#collected.push({ logTimes: this.#logTimes, eventTimes: this.#eventTimes, n: this.#n })
    this.#logTimes = spare?.logTimes ?? new Float64Array(1024)
    this.#eventTimes = spare?.eventTimes ?? new Float64Array(1024)
    this.#n = 0
  }

  /** The oldest collected commit is durable at `now`. */
  landed(now: number): void {
    const batch = this.#collected.shift()
    if (!batch) return
    const { logTimes, eventTimes, n } = batch
    for (let i = 0; i < n; i++) {
      const lt = logTimes[i]!
      if (!Number.isNaN(lt)) this.latency.record(now - lt)
      const et = eventTimes[i]!
      if (Number.isFinite(et)) this.eventLatency.record(now - et)
    }
    if (this.#spare.length < 4) this.#spare.push(batch)
  }
}
