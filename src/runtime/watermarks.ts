/**
 * Event-time watermarks for one task. Each input channel (a source partition, or an upstream
 * task writing into a repartition topic) has its own watermark; the task's watermark is the
 * minimum over channels that are not idle, and never goes back.
 *
 * A source channel's watermark is the newest event time seen minus `maxOutOfOrder`. A channel
 * with no records for `idleAfter` (processing time) is idle and leaves the minimum until its
 * next record. When every channel is idle, nothing holds the watermark back: it is the largest
 * channel watermark (as in Flink), whatever order the channels went idle in. With
 * `advance: 'processing-time'`, an idle channel's watermark also moves with the wall clock, so
 * windows close on quiet streams.
 */
export interface ChannelOptions {
  maxOutOfOrder: number
  idleAfter: number
  advanceWithProcessingTime: boolean
}

export interface ChannelSnapshot {
  name: string
  maxTimestamp: number
  watermark: number
  idle: boolean
  lag: number
}

export class Channel {
  readonly name: string
  readonly options: ChannelOptions
  /** Newest event time seen (source channels). */
  maxTimestamp = Number.NEGATIVE_INFINITY
  watermark = Number.NEGATIVE_INFINITY
  idle = false
  lastActivity: number
  /** Event time minus processing time at the last record: how far event time lags the clock. */
  #lag = 0

  constructor(name: string, options: ChannelOptions, now: number) {
    this.name = name
    this.options = options
    this.lastActivity = now
  }

  /** What a commit persists, so a restarted task resumes with the event time it had. */
  snapshot(): ChannelSnapshot {
    return {
      name: this.name,
      maxTimestamp: this.maxTimestamp,
      watermark: this.watermark,
      idle: this.idle,
      lag: this.#lag,
    }
  }

  restore(s: ChannelSnapshot): void {
    this.maxTimestamp = s.maxTimestamp
    this.watermark = s.watermark
    this.idle = s.idle
    this.#lag = s.lag
  }

  /** A data record arrived on a source channel. */
  observe(timestamp: number, now: number): void {
    this.lastActivity = now
    this.idle = false
    if (timestamp > this.maxTimestamp) {
      this.maxTimestamp = timestamp
      this.#lag = now - timestamp
      const wm = timestamp - this.options.maxOutOfOrder
      if (wm > this.watermark) this.watermark = wm
    }
  }

  /** A watermark marker arrived from an upstream task (repartition channels). */
  mark(watermark: number, idle: boolean, now: number): void {
    this.lastActivity = now
    this.idle = idle
    if (watermark > this.watermark) this.watermark = watermark
  }

  /** Processing time passed: maybe become idle, maybe advance with the clock. */
  tick(now: number): void {
    const { idleAfter, advanceWithProcessingTime, maxOutOfOrder } = this.options
    if (idleAfter > 0 && !this.idle && now - this.lastActivity >= idleAfter) this.idle = true
    if (this.idle && advanceWithProcessingTime && this.maxTimestamp > Number.NEGATIVE_INFINITY) {
      const wm = now - this.#lag - maxOutOfOrder
      if (wm > this.watermark) this.watermark = wm
    }
  }
}

export class WatermarkTracker {
  readonly channels: Channel[] = []
  #watermark = Number.NEGATIVE_INFINITY

  add(channel: Channel): Channel {
    this.channels.push(channel)
    return channel
  }

  /** Recomputes the task watermark; returns it (monotonic). */
  current(): number {
    let min = Number.POSITIVE_INFINITY
    let active = 0
    let idleMax = Number.NEGATIVE_INFINITY
    for (const c of this.channels) {
      if (c.idle) {
        if (c.watermark > idleMax) idleMax = c.watermark
        continue
      }
      active++
      if (c.watermark < min) min = c.watermark
    }
    // All idle: no channel holds the others back. Channels that went idle in the same tick
    // must not freeze the watermark at the laggard's value (or at −∞ for an empty input).
    const wm = active === 0 ? idleMax : min
    if (wm > this.#watermark) this.#watermark = wm
    return this.#watermark
  }

  get watermark(): number {
    return this.#watermark
  }

  /** True when every channel is idle (the task sends "idle" downstream). */
  get allIdle(): boolean {
    return this.channels.length > 0 && this.channels.every((c) => c.idle)
  }
}
