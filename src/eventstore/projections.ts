/**
 * Asynchronous projections: read models built from the global order, exactly once.
 *
 * A projection's `apply` writes documents (keyed JSON values) through a `ProjectionTx`; on
 * PostgreSQL it may also write tables of its own through `tx.sql`. Each batch's writes and the
 * projection's new position commit in ONE transaction of the store, conditional on the stored
 * position still being where the batch started — so after a crash the projection resumes
 * exactly after the last batch that committed (nothing applied twice, nothing skipped), and
 * two runners of one projection cannot both apply a batch (the loser re-reads its position).
 *
 * `rebuildProjection` clears the projection and replays the store from position 0, reporting
 * progress; rebuilt from the same events, it ends equal to what the live runner built.
 * @example
 * const totals: Projection = {
 *   name: 'totals',
 *   types: ['Deposited'],
 *   async apply(events, tx) {
 *     for (const e of events) {
 *       const total = (await tx.get<number>(e.streamId)) ?? 0
 *       await tx.put(e.streamId, total + (e.data as { amount: number }).amount)
 *     }
 *   },
 * }
 * const running = startProjection(store, totals)
 */
import type pg from 'pg'
import { SluiceError } from '../errors.ts'
import type { EventStore, RecordedEvent } from './types.ts'
import { jsonProblem } from './validate.ts'

/** The writes of one projection batch; they commit together with the projection's position. */
export interface ProjectionTx {
  get<T = unknown>(key: string): Promise<T | undefined>
  /** `value` must be JSON. */
  put(key: string, value: unknown): Promise<void>
  delete(key: string): Promise<void>
  /** PostgreSQL: the transaction's client, for tables of your own. Undefined on the embedded store. */
  readonly sql: pg.ClientBase | undefined
}

export interface Projection {
  /** A stable name: keys the documents and the stored position. */
  name: string
  /** Only these event types reach `apply` (default all). */
  types?: readonly string[]
  /** Only events of streams starting with this reach `apply`. */
  streamPrefix?: string
  apply(events: readonly RecordedEvent[], tx: ProjectionTx): void | Promise<void>
  /**
   * Before a rebuild: clear what `apply` wrote outside the documents (your own tables, through
   * `tx.sql`). The documents and the position are cleared by Sluice, in the same transaction.
   */
  reset?(tx: ProjectionTx): void | Promise<void>
}

/** Where a store keeps projection documents and positions: implemented by each store. */
export interface ProjectionStorage {
  /** The position a projection has applied up to (0: never run, or reset). */
  position(name: string): Promise<number>
  /**
   * Runs `work` and moves the position from `from` to `to`, in one transaction; throws a
   * `StalePositionError` (and commits nothing) when the stored position is not `from`.
   */
  commit(
    name: string,
    from: number,
    to: number,
    work: (tx: ProjectionTx) => void | Promise<void>,
  ): Promise<void>
  /** Deletes the documents and the position, after running `work` in the same transaction. */
  reset(name: string, work?: (tx: ProjectionTx) => void | Promise<void>): Promise<void>
  get<T = unknown>(name: string, key: string): Promise<T | undefined>
  /** Every document, by key. */
  entries(name: string): Promise<Map<string, unknown>>
}

/** Another runner moved the projection's position: this one re-reads it and goes on from there. */
export class StalePositionError extends SluiceError {
  constructor(name: string, expected: number, actual: number) {
    super(
      'SLUICE_CONCURRENCY_CONFLICT',
      `projection "${name}" is at position ${actual}, not ${expected}: another runner (or a rebuild) moved it; ` +
        'this batch was not applied',
    )
    this.name = 'StalePositionError'
  }
}

export interface RunOptions {
  /** Most events per batch (default 500). */
  batchSize?: number
  /** Longest wait for new events before reading again (ms, default 1,000). */
  pollMs?: number
  signal?: AbortSignal
}

export interface RunningProjection {
  readonly position: number
  /** Resolves once the projection has applied everything up to `position`. */
  reached(position: number): Promise<void>
  /** Settles when the runner ends: resolves after `stop()`, rejects with `apply`'s error. */
  readonly done: Promise<void>
  stop(): Promise<void>
}

/** Runs a projection: catch up from its stored position, then follow new events, until stopped. */
export function startProjection(
  store: EventStore,
  projection: Projection,
  options: RunOptions = {},
): RunningProjection {
  checkProjectionName(projection.name)
  const storage = store.projections()
  const abort = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal
  const batchSize = options.batchSize ?? 500
  let position = 0
  const waiters = new Set<{ at: number; resolve: () => void; reject: (error: Error) => void }>()
  const moved = () => {
    for (const w of waiters) {
      if (position >= w.at) {
        waiters.delete(w)
        w.resolve()
      }
    }
  }
  const done = (async () => {
    position = await storage.position(projection.name)
    moved()
    while (!signal.aborted) {
      let page: { events: readonly RecordedEvent[]; position: number }
      try {
        page = await applyNext(store, storage, projection, position, batchSize)
      } catch (error) {
        if (!(error instanceof StalePositionError)) throw error
        position = await storage.position(projection.name)
        continue
      }
      position = page.position
      moved()
      if (page.events.length < batchSize) {
        await store.waitForEvents(position, { timeoutMs: options.pollMs ?? 1_000, signal })
      }
    }
  })()
  done.then(
    () => {
      for (const w of waiters)
        w.reject(new Error(`projection "${projection.name}" stopped before reaching it`))
    },
    (error: Error) => {
      for (const w of waiters) w.reject(error)
    },
  )
  return {
    get position() {
      return position
    },
    reached(at) {
      if (position >= at) return Promise.resolve()
      return new Promise((resolve, reject) => waiters.add({ at, resolve, reject }))
    },
    done,
    async stop() {
      abort.abort()
      await done.catch(() => {})
    },
  }
}

export interface RebuildProgress {
  /** Position applied up to. */
  position: number
  /** The store's head when the rebuild started (positions can have holes on PostgreSQL). */
  head: number
  /** Events applied so far. */
  events: number
}

/**
 * Clears a projection and replays every event into it from position 0, up to the head (and
 * whatever was appended meanwhile). Stop the projection's live runner first, or it will race
 * the rebuild batch by batch (safely: positions are compared at every commit).
 */
export async function rebuildProjection(
  store: EventStore,
  projection: Projection,
  options: { batchSize?: number; onProgress?: (progress: RebuildProgress) => void } = {},
): Promise<RebuildProgress> {
  checkProjectionName(projection.name)
  const storage = store.projections()
  const batchSize = options.batchSize ?? 500
  const head = await store.headPosition()
  await storage.reset(projection.name, projection.reset ? (tx) => projection.reset!(tx) : undefined)
  const progress: RebuildProgress = { position: 0, head, events: 0 }
  options.onProgress?.({ ...progress })
  for (;;) {
    const page = await applyNext(store, storage, projection, progress.position, batchSize)
    progress.position = page.position
    progress.events += page.events.length
    options.onProgress?.({ ...progress })
    if (page.events.length < batchSize && progress.position >= head) return progress
  }
}

/** Reads the next page after `from` and applies it with its new position (one transaction). */
async function applyNext(
  store: EventStore,
  storage: ProjectionStorage,
  projection: Projection,
  from: number,
  batchSize: number,
): Promise<{ events: readonly RecordedEvent[]; position: number }> {
  const page = await store.readAll({
    after: from,
    limit: batchSize,
    ...(projection.types ? { types: projection.types } : {}),
    ...(projection.streamPrefix ? { streamPrefix: projection.streamPrefix } : {}),
  })
  if (page.position > from) {
    await storage.commit(projection.name, from, page.position, (tx) =>
      page.events.length > 0 ? projection.apply(page.events, tx) : undefined,
    )
  }
  return page
}

export function checkProjectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[\w.:-]{1,200}$/.test(name)) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `a projection name uses letters, digits, ".", ":", "_" and "-" (at most 200), got ${JSON.stringify(name)}`,
    )
  }
}

/** The check both stores apply to `tx.put`. */
export function checkDocument(projection: string, key: string, value: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.includes('\0') || Buffer.byteLength(key) > 500) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `projection "${projection}": a document key must be a non-empty string of at most 500 bytes without U+0000`,
    )
  }
  const problem = jsonProblem(value, 'value', 0, new Set())
  if (problem || value === undefined) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `projection "${projection}", document "${key}": ${problem ?? 'value is undefined'} (documents are JSON)`,
    )
  }
  return JSON.stringify(value)
}
