/**
 * Aggregates in the decide/evolve style: `decide(command, state)` returns the events a command
 * causes (or throws to refuse it), `evolve(state, event)` folds one event into the state. The
 * store does the rest: `load` folds a stream (from a snapshot when a usable one exists, or as
 * of a version or a time), `handle` loads, decides, appends with the loaded version as the
 * expected version, and on a `ConcurrencyError` does it all again with the fresh state.
 *
 * Snapshots are written every `snapshot.every` events by `handle`. A snapshot carries the
 * `schemaVersion` it was written with; bump it when the state's shape changes and old
 * snapshots are ignored (the state is folded from the events instead), never loaded wrongly.
 * @example
 * const counter = aggregate({
 *   name: 'counter',
 *   initialState: () => ({ total: 0 }),
 *   evolve: (state, event: Event<'Added', { n: number }>) => ({ total: state.total + event.data.n }),
 *   decide: (command: { add: number }) => [{ type: 'Added' as const, data: { n: command.add } }],
 * })
 * const { state } = await counter.handle(store, 'counter-1', { add: 2 })
 */
import { ConcurrencyError } from './errors.ts'
import type { AppendResult, Event, EventStore, NewEvent, RecordedEvent } from './types.ts'

export interface SnapshotPolicy<State> {
  /** Write a snapshot whenever the stream crosses a multiple of this many events. */
  every: number
  /** The state's shape version: snapshots written with another one are not loaded. */
  schemaVersion: number
  /** State → JSON (default: the state as it is; it must then be JSON). */
  toJson?: (state: State) => unknown
  /** JSON → state (default: the JSON as it is). */
  fromJson?: (json: unknown) => State
}

export interface AggregateDefinition<State, E extends Event, Command> {
  /** The aggregate kind: names its snapshots. */
  name: string
  initialState: () => State
  evolve: (state: State, event: E) => State
  /** The events `command` causes in `state`; throw to refuse the command (nothing is appended). */
  decide: (command: Command, state: State) => NewEvent<E> | readonly NewEvent<E>[]
  snapshot?: SnapshotPolicy<State>
}

/** Where a time-travel load stops: at a stream version, or at the last event appended at or before a time. */
export interface AsOf {
  version?: number
  time?: number | Date
}

export interface LoadOptions {
  asOf?: AsOf
}

export interface Loaded<State> {
  state: State
  /** The version the state includes (0: no events). */
  version: number
  /** The snapshot version the fold started from, if a snapshot was used. */
  snapshotVersion: number | undefined
  /** Events folded on top of the snapshot (or the initial state). */
  replayed: number
}

export interface HandleOptions {
  /** Attempts in all, counting the first (default 5): each conflict reloads and decides again. */
  maxAttempts?: number
}

export interface Handled<State, E extends Event> {
  state: State
  version: number
  /** The events appended (empty when `decide` returned none). */
  events: readonly NewEvent<E>[]
  /** The store's answer to the append; undefined when nothing was appended. */
  appended: AppendResult | undefined
  attempts: number
  /** A snapshot that should have been written but could not be (the events are appended regardless). */
  snapshotError?: Error
}

export interface Aggregate<State, E extends Event, Command> {
  readonly definition: AggregateDefinition<State, E, Command>
  load(store: EventStore, streamId: string, options?: LoadOptions): Promise<Loaded<State>>
  handle(
    store: EventStore,
    streamId: string,
    command: Command,
    options?: HandleOptions,
  ): Promise<Handled<State, E>>
}

export function aggregate<State, E extends Event, Command>(
  definition: AggregateDefinition<State, E, Command>,
): Aggregate<State, E, Command> {
  const policy = definition.snapshot
  if (policy && (!Number.isSafeInteger(policy.every) || policy.every < 1)) {
    throw new TypeError(`aggregate "${definition.name}": snapshot.every must be a whole number ≥ 1`)
  }

  async function load(
    store: EventStore,
    streamId: string,
    options: LoadOptions = {},
  ): Promise<Loaded<State>> {
    const targetVersion = options.asOf?.version
    const time = options.asOf?.time
    const until = time === undefined ? undefined : typeof time === 'number' ? time : time.getTime()
    if (targetVersion !== undefined && (!Number.isSafeInteger(targetVersion) || targetVersion < 0)) {
      throw new TypeError(`asOf.version must be a whole number ≥ 0, got ${targetVersion}`)
    }
    if (until !== undefined && !Number.isFinite(until)) throw new TypeError('asOf.time is not a valid time')
    if (targetVersion === 0)
      return { state: definition.initialState(), version: 0, snapshotVersion: undefined, replayed: 0 }

    let state = definition.initialState()
    let version = 0
    let snapshotVersion: number | undefined
    // A snapshot serves a time-travel load by version only when it is not past that version; a
    // load as of a time folds from the start, since a snapshot does not say when its last event was.
    if (policy && until === undefined) {
      const snap = await store.readSnapshot(streamId, definition.name)
      if (
        snap &&
        snap.schemaVersion === policy.schemaVersion &&
        (targetVersion === undefined || snap.version <= targetVersion)
      ) {
        state = policy.fromJson ? policy.fromJson(snap.state) : (snap.state as State)
        version = snap.version
        snapshotVersion = snap.version
      }
    }
    let events: RecordedEvent<E>[]
    try {
      events = await store.readStream<E>(streamId, {
        fromVersion: version + 1,
        ...(targetVersion === undefined ? {} : { toVersion: targetVersion }),
      })
    } catch (error) {
      if ((error as { code?: string }).code !== 'SLUICE_UNKNOWN_STREAM') throw error
      events = []
    }
    let replayed = 0
    for (const event of events) {
      if (until !== undefined && event.timestamp > until) break
      state = definition.evolve(state, event)
      version = event.version
      replayed++
    }
    return { state, version, snapshotVersion, replayed }
  }

  async function handle(
    store: EventStore,
    streamId: string,
    command: Command,
    options: HandleOptions = {},
  ): Promise<Handled<State, E>> {
    const maxAttempts = options.maxAttempts ?? 5
    for (let attempt = 1; ; attempt++) {
      const loaded = await load(store, streamId)
      const decided = definition.decide(command, loaded.state)
      const events: readonly NewEvent<E>[] = Array.isArray(decided) ? decided : [decided as NewEvent<E>]
      if (events.length === 0) {
        return {
          state: loaded.state,
          version: loaded.version,
          events,
          appended: undefined,
          attempts: attempt,
        }
      }
      let appended: AppendResult
      try {
        appended = await store.append(streamId, events, {
          expectedVersion: loaded.version === 0 ? 'noStream' : loaded.version,
        })
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= maxAttempts) throw error
        // Someone appended in between: back off a little (so racing handlers spread out), reload.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt))
        continue
      }
      let state = loaded.state
      for (const event of events) state = definition.evolve(state, event)
      const handled: Handled<State, E> = {
        state,
        version: appended.nextExpectedVersion,
        events,
        appended,
        attempts: attempt,
      }
      if (
        policy &&
        crossed(loaded.version, appended.nextExpectedVersion, policy.every) &&
        !appended.duplicate
      ) {
        try {
          await store.writeSnapshot({
            streamId,
            name: definition.name,
            schemaVersion: policy.schemaVersion,
            version: appended.nextExpectedVersion,
            state: policy.toJson ? policy.toJson(state) : state,
          })
        } catch (error) {
          handled.snapshotError = error as Error
        }
      }
      return handled
    }
  }

  return { definition, load, handle }
}

/** True when going from version `from` to `to` passed a multiple of `every`. */
function crossed(from: number, to: number, every: number): boolean {
  return Math.floor(to / every) > Math.floor(from / every)
}
