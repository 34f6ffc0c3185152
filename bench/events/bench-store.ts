/**
 * The little each event store must do for bench/events.ts, so Sluice's two stores and Emmett's
 * PostgreSQL store run the very same workloads (same streams, events, payloads and checks).
 */

/** `'noStream'`: the stream must not exist; a number: its current version; undefined: no check. */
export type Expected = 'noStream' | number | undefined

export interface BenchEvent {
  type: string
  data: { order: string; amount: number; currency: string; note: string }
}

/** About 100 bytes of JSON data per event, the same for every store. */
export const eventData = (i: number): BenchEvent['data'] => ({
  order: `order-${i}`,
  amount: i % 1000,
  currency: 'EUR',
  note: 'x'.repeat(40),
})

/** What an aggregate load folds the events of a stream into. */
export interface OrderTotals {
  count: number
  total: number
}

export const initialTotals = (): OrderTotals => ({ count: 0, total: 0 })

export const evolveTotals = (state: OrderTotals, event: { data: BenchEvent['data'] }): OrderTotals => ({
  count: state.count + 1,
  total: state.total + event.data.amount,
})

export interface LoadResult {
  /** The stream version the state includes. */
  version: number
  /** Events folded by this load (fewer than `version` when it started from a snapshot). */
  replayed: number
  state: OrderTotals
}

export interface BenchStore {
  /** Resolves once durable, with the stream's version after the append. */
  append(streamId: string, events: BenchEvent[], expected: Expected): Promise<number>
  /** Reads the global order from the start in pages of `pageSize`; resolves with the events read. */
  readAll(pageSize: number): Promise<number>
  /**
   * Writes a stream for the aggregate-load workload: the appends of `sizes` events one after the
   * other, with the expected version, and a snapshot where the store's aggregate helper writes one.
   */
  writeAggregate(streamId: string, sizes: readonly number[], snapshotEvery: number): Promise<void>
  /** Folds a stream into `OrderTotals`; `fromSnapshot` uses the stored snapshot. */
  load(streamId: string, fromSnapshot: boolean): Promise<LoadResult>
  /** False when the store has no snapshots: the snapshot rows say so instead of a figure. */
  readonly snapshots: boolean
}

export interface Target {
  /** Shown in the table's first column. */
  name: string
  /** Opens a store on a fresh schema or database (the same one until `cleanup`). */
  open(connections?: number): Promise<BenchStore>
  /** `n` concurrent writers: distinct stores (connections) or one store shared. */
  writers(n: number): Promise<BenchStore[]>
  /** Closes every store `open` and `writers` opened and drops what they created. */
  cleanup(): Promise<void>
}
