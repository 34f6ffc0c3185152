/**
 * What a task measures about itself, cheap enough to leave on: two timestamps of one record in
 * four into a flat array, turned into latency histograms (weighted) when their commit lands.
 *
 * - `latency`: append time → output committed: from when the log stored the record in its
 *   source topic (on Kafka, which gives no append time, from the record's timestamp — the
 *   append time on topics with message.timestamp.type=LogAppendTime). Measured where records
 *   enter from user topics (a repartition hop's records carry event time instead).
 * - `eventLatency`: event time → output committed, at every task: how far results trail the
 *   events they are about (this includes waiting for windows to close and for watermarks).
 * - `busyMs`: time spent processing records, for the processing time per record.
 *
 * Records of one collect land together; collects land in order (every runner calls
 * `collected()` at its collect and `landed()` when that commit is durable).
 */
import { Histogram } from './histogram.ts'

/**
 * One record in this many has its times kept (weighted to stand for the others): records of
 * one commit land together, so their latencies differ only by their log and event times, which
 * neighbours share closely. Keeping every record cost 7% of the engine on the stateless bench.
 */
const SAMPLE = 4

interface Batch {
  logTimes: Float64Array<ArrayBuffer>
  eventTimes: Float64Array<ArrayBuffer>
  /** Samples kept. */
  n: number
  /** Records observed: the last sample stands for those after it. */
  records: number
}

export class TaskMetrics {
  readonly enabled: boolean
  readonly latency = new Histogram()
  readonly eventLatency = new Histogram()
  busyMs = 0
  /** Time processing waited for mapAsync calls to finish (a slow service holding input back). */
  blockedMs = 0
  #logTimes: Float64Array<ArrayBuffer> = new Float64Array(256)
  #eventTimes: Float64Array<ArrayBuffer> = new Float64Array(256)
  #n = 0
  #records = 0
  readonly #collected: Batch[] = []
  /** Arrays of landed batches, reused so steady state allocates nothing. */
  readonly #spare: Batch[] = []

  constructor(enabled = true) {
    this.enabled = enabled
  }

  /** A record was processed. `logTime` NaN: it came through a repartition topic. */
  observe(logTime: number, eventTime: number): void {
    // The first of every SAMPLE records of a commit is kept.
    if (this.#records++ % SAMPLE !== 0) return
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
    this.#collected.push({
      logTimes: this.#logTimes,
      eventTimes: this.#eventTimes,
      n: this.#n,
      records: this.#records,
    })
    this.#logTimes = spare?.logTimes ?? new Float64Array(256)
    this.#eventTimes = spare?.eventTimes ?? new Float64Array(256)
    this.#n = 0
    this.#records = 0
  }

  /**
   * Takes the figures of the task this one's task replaces after a rewind. Its commits have
   * all landed by then (every runner waits for them), so nothing collected is left behind.
   */
  inherit(from: TaskMetrics): void {
    this.latency.add(from.latency)
    this.eventLatency.add(from.eventLatency)
    this.busyMs += from.busyMs
    this.blockedMs += from.blockedMs
  }

  /** The oldest collected commit is durable at `now`. */
  landed(now: number): void {
    const batch = this.#collected.shift()
    if (!batch) return
    const { logTimes, eventTimes, n, records } = batch
    // Each sample stands for SAMPLE records, the last one for what is left. Runs of equal log
    // times (records appended in one batch share theirs) are recorded once with their weight.
    let lt = Number.NaN
    let weight = 0
    for (let i = 0; i < n; i++) {
      const w = i === n - 1 ? records - i * SAMPLE : SAMPLE
      const t = logTimes[i]!
      if (t === lt) weight += w
      else {
        if (weight > 0) this.latency.recordMany(now - lt, weight)
        lt = t
        weight = Number.isNaN(t) ? 0 : w
      }
      const et = eventTimes[i]!
      if (et > Number.NEGATIVE_INFINITY && et < Number.POSITIVE_INFINITY) {
        this.eventLatency.recordMany(now - et, w)
      }
    }
    if (weight > 0) this.latency.recordMany(now - lt, weight)
    if (this.#spare.length < 4) this.#spare.push(batch)
  }
}
