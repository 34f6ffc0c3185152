/**
 * The low-level operator for what the DSL lacks: per-key state and timers.
 * @example
 * stream.keyBy((e) => e.sensorId).process({
 *   name: 'silence',
 *   process(reading, ctx) {
 *     ctx.state.set({ last: ctx.timestamp })
 *     ctx.timers.processingTime(ctx.processingTime + 60_000)
 *   },
 *   onTimer(timer, ctx) { ctx.emit({ sensorId: ctx.key, silentSince: ctx.state.get()?.last }) },
 * })
 */
export interface Processor<T, U, S> {
  /** Stable name: keys this processor's state store. */
  readonly name: string
  process(value: T, ctx: ProcessContext<U, S>): void
  onTimer?(timer: TimerInfo, ctx: ProcessContext<U, S>): void
  /** Drop a key's state this long after its last update (processing time). */
  readonly ttl?: number
}

export interface ProcessContext<U, S> {
  /** The current record's key. */
  readonly key: string
  /** Event time of the current record (or of the timer that fired). */
  readonly timestamp: number
  readonly watermark: number
  readonly processingTime: number
  readonly state: KeyedState<S>
  readonly timers: Timers
  emit(value: U, options?: { key?: string; timestamp?: number }): void
}

export interface KeyedState<S> {
  get(): S | undefined
  set(value: S): void
  delete(): void
}

export interface Timers {
  /** Fires when the watermark passes `time`. */
  eventTime(time: number): void
  /** Fires when the wall clock passes `time`. */
  processingTime(time: number): void
}

export interface TimerInfo {
  readonly kind: 'event' | 'processing'
  readonly time: number
}
