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

/** Event-time latency is recorded for one record in this many (weighted to stand for them all). */
const EVENT_SAMPLE = 4

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
    // Runs of equal timestamps (records appended in one batch share their log time) are
    // recorded once with their length.
    let lt = Number.NaN
    let lts = 0
    for (let i = 0; i < n; i++) {
      const t = logTimes[i]!
      if (t === lt) {
        lts++
        continue
      }
      if (lts > 0) this.latency.recordMany(now - lt, lts)
      lt = t
      lts = Number.isNaN(t) ? 0 : 1
    }
    if (lts > 0) this.latency.recordMany(now - lt, lts)
    // Event times differ record by record: one in EVENT_SAMPLE is recorded, standing for
    // EVENT_SAMPLE records (the histogram's counts stay right; its resolution is 1/16 anyway).
    for (let i = 0; i < n; i += EVENT_SAMPLE) {
      const et = eventTimes[i]!
      if (et > Number.NEGATIVE_INFINITY && et < Number.POSITIVE_INFINITY) {
        this.eventLatency.recordMany(now - et, Math.min(EVENT_SAMPLE, n - i))
      }
    }
    if (this.#spare.length < 4) this.#spare.push(batch)
  }
}
