/**
 * Subscriptions: a handler that receives the global order from a position — first what is
 * stored (catch-up), then each event as it becomes readable (live) — in batches, in order,
 * each event once per run. With a `checkpoint` name the position is stored after each handled
 * batch and a restarted subscription resumes there: delivery is at-least-once across a crash
 * between a handler's effects and its checkpoint. For exactly-once into a read model use a
 * projection (projections.ts), which commits its effects and its position together.
 * @example
 * const sub = subscribe(store, async (events) => { for (const e of events) console.log(e.type) }, {
 *   checkpoint: 'printer',
 * })
 * await sub.caughtUp
 * await sub.stop()
 */
import type { EventFilter, EventStore, RecordedEvent } from './types.ts'

export interface SubscribeOptions extends EventFilter {
  /** Start after this position. Default: the stored checkpoint, else 0 (the beginning). */
  from?: number
  /** Store the position under this name after every handled batch; resume from it. */
  checkpoint?: string
  /** Most events per handler call (default 100). */
  batchSize?: number
  /** Longest wait for new events before reading again (ms, default 1,000). */
  pollMs?: number
  signal?: AbortSignal
}

export interface Subscription {
  /** The position handled up to. */
  readonly position: number
  /** Resolves the first time the subscription has handled everything readable (catch-up is over); rejects if it fails first. */
  readonly caughtUp: Promise<void>
  /** Settles when the subscription ends: resolves after `stop()`, rejects with the handler's error. */
  readonly done: Promise<void>
  /** Resolves once every event up to `position` is handled. */
  reached(position: number): Promise<void>
  stop(): Promise<void>
}

export type SubscriptionHandler = (events: readonly RecordedEvent[], position: number) => void | Promise<void>

export function subscribe(
  store: EventStore,
  handler: SubscriptionHandler,
  options: SubscribeOptions = {},
): Subscription {
  const abort = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal
  const batchSize = options.batchSize ?? 100
  const pollMs = options.pollMs ?? 1_000
  let position = 0
  let markCaughtUp!: () => void
  let failCaughtUp!: (error: Error) => void
  const caughtUp = new Promise<void>((resolve, reject) => {
    markCaughtUp = resolve
    failCaughtUp = reject
  })
  // Whoever awaits it gets the rejection; nobody awaiting it is not a crash.
  caughtUp.catch(() => {})
  const reachedWaiters = new Set<{ position: number; resolve: () => void; reject: (e: Error) => void }>()
  const filter: EventFilter = {
    ...(options.types ? { types: options.types } : {}),
    ...(options.streamPrefix ? { streamPrefix: options.streamPrefix } : {}),
  }

  const moved = () => {
    for (const w of reachedWaiters) {
      if (position >= w.position) {
        reachedWaiters.delete(w)
        w.resolve()
      }
    }
  }

  const done = (async () => {
    const stored =
      options.checkpoint === undefined ? undefined : await store.readCheckpoint(options.checkpoint)
    position = options.from ?? stored ?? 0
    moved()
    while (!signal.aborted) {
      const page = await store.readAll({ ...filter, after: position, limit: batchSize })
      if (signal.aborted) break
      if (page.events.length > 0) await handler(page.events, page.position)
      if (page.position > position) {
        position = page.position
        if (options.checkpoint !== undefined) await store.writeCheckpoint(options.checkpoint, position)
        moved()
      }
      if (page.events.length < batchSize) {
        markCaughtUp()
        await store.waitForEvents(position, { timeoutMs: pollMs, signal })
      }
    }
  })()
  done.then(
    () => {
      markCaughtUp()
      for (const w of reachedWaiters)
        w.reject(new Error('the subscription stopped before reaching the position'))
    },
    (error: Error) => {
      failCaughtUp(error)
      for (const w of reachedWaiters) w.reject(error)
    },
  )

  return {
    get position() {
      return position
    },
    caughtUp,
    done,
    reached(target) {
      if (position >= target) return Promise.resolve()
      return new Promise((resolve, reject) => reachedWaiters.add({ position: target, resolve, reject }))
    },
    async stop() {
      abort.abort()
      await done.catch(() => {})
    },
  }
}
