/**
 * The event store: streams of events per aggregate, appended with an expected version, and one
 * global order over every stream. Two implementations keep this contract — embedded (LMDB, in
 * `<dataDir>/events`) and PostgreSQL — and `test/conformance/event-store.ts` checks both.
 *
 * Vocabulary (as in EventStoreDB, Marten and Emmett):
 * - a **stream** is the history of one aggregate (`order-42`); its events have **versions**
 *   1, 2, 3, … with no gaps; a stream with no events has version 0 and does not exist;
 * - every event also has a **global position**: one order over all streams. Positions only
 *   grow in the order readers see them, and a reader that has seen position p has seen every
 *   event that will ever have a position below p (nothing commits "late" behind a reader).
 *   Positions are dense on the embedded store; on PostgreSQL a rolled-back append leaves a
 *   hole in the numbers, never in what readers see.
 */
import type { StandardSchemaV1 } from '../dsl/schema.ts'
import type { ProjectionStorage } from './projections.ts'

export {
  ConcurrencyError,
  DuplicateEventIdError,
  InvalidEventError,
  SchemaMismatchError,
  UnknownStreamError,
} from './errors.ts'

/** A JSON value: what event data, metadata and snapshot states are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Free-form, JSON-only facts about an event (correlation id, user, …). */
export type Metadata = Record<string, unknown>

/** An event as the domain sees it: a type name and its data. Unions of these type an aggregate. */
export interface Event<Type extends string = string, Data = unknown> {
  type: Type
  data: Data
}

/** An event to append. `id` makes a retried append idempotent (default: a random UUID). */
export type NewEvent<E extends Event = Event> = E & {
  id?: string
  metadata?: Metadata
}

/** What the store adds to every event it records. */
export interface RecordedInfo {
  /** Unique over the whole store. */
  id: string
  streamId: string
  /** 1-based position of the event in its stream. */
  version: number
  /** Position in the global order (≥ 1). */
  position: number
  /** When it was appended (ms since the epoch; the store's clock). */
  timestamp: number
  metadata: Metadata
}

/** A stored event. Distributes over unions, so `switch (event.type)` narrows `event.data`. */
export type RecordedEvent<E extends Event = Event> = E extends Event ? E & RecordedInfo : never

/**
 * The condition an append puts on its stream:
 * - `'any'`: no check;
 * - `'noStream'` (or `0`): the stream must not exist yet;
 * - `'exists'`: the stream must have at least one event;
 * - a number n ≥ 1: the stream's current version must be exactly n.
 */
export type ExpectedVersion = 'any' | 'noStream' | 'exists' | number

export interface AppendOptions {
  /** Default `'any'`. */
  expectedVersion?: ExpectedVersion
}

export interface AppendResult {
  /** The stream's version after the append: pass it as the next `expectedVersion`. */
  nextExpectedVersion: number
  /** Global positions of the first and last appended event. */
  firstPosition: number
  lastPosition: number
  /**
   * True when every event id was already stored by an earlier append of these same events to
   * this stream (a retry): nothing was written, and the positions are the original ones.
   */
  duplicate: boolean
}

export interface ReadStreamOptions {
  /** Default `'forward'`. */
  direction?: 'forward' | 'backward'
  /**
   * The first version to return: forward, events from it up; backward, from it down.
   * Default: 1 forward, the last version backward.
   */
  fromVersion?: number
  /** Forward only: the last version to return (inclusive). */
  toVersion?: number
  /** Most events to return (default: all). */
  maxCount?: number
}

/** Which events a read of the global order returns; both given means both must match. */
export interface EventFilter {
  /** Only events of these types. */
  types?: readonly string[]
  /** Only events of streams whose id starts with this (`order-`). */
  streamPrefix?: string
}

export interface ReadAllOptions extends EventFilter {
  /** Read events after this global position (default 0: from the beginning). */
  after?: number
  /** Most events per page (default 1,000). */
  limit?: number
}

/** One page of the global order. */
export interface ReadAllPage {
  events: RecordedEvent[]
  /**
   * How far this read got (≥ `after`): pass it as the next `after`. With a filter it can be
   * past the last returned event — events that did not match were skipped over, not lost.
   */
  position: number
}

/** A state folded from a stream up to `version`, stored to load the aggregate faster. */
export interface Snapshot<State = unknown> {
  streamId: string
  /** The aggregate kind (its name): a stream may have snapshots of several folds. */
  name: string
  /** The shape of `state`: a snapshot with another schemaVersion is ignored, never loaded. */
  schemaVersion: number
  /** The stream version the state includes. */
  version: number
  state: State
  /** When it was written (ms). */
  timestamp: number
}

export interface WaitOptions {
  timeoutMs: number
  signal?: AbortSignal
}

export interface EventStore {
  /** `embedded` or `postgres`: shown in errors and the CLI. */
  readonly kind: string

  /**
   * Appends events to a stream, atomically: all of them or none. Fails with a
   * `ConcurrencyError` (nothing written) when the stream's version does not match
   * `expectedVersion`, an `InvalidEventError` for an event that cannot be stored, a
   * `DuplicateEventIdError` when an id belongs to another append. Resolves once durable.
   * @example
   * const { nextExpectedVersion } = await store.append('cart-1', [{ type: 'ItemAdded', data: { sku: 'a' } }], {
   *   expectedVersion: 'noStream',
   * })
   */
  append<E extends Event>(
    streamId: string,
    events: readonly NewEvent<E>[],
    options?: AppendOptions,
  ): Promise<AppendResult>

  /** A stream's events in version order (or reverse). Unknown stream: `UnknownStreamError`. */
  readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<RecordedEvent<E>[]>

  /** The stream's current version; 0 when it does not exist. */
  streamVersion(streamId: string): Promise<number>

  /** A page of the global order after `options.after`, optionally filtered. */
  readAll(options?: ReadAllOptions): Promise<ReadAllPage>

  /** The position of the last event readers can see now (0 when none). */
  headPosition(): Promise<number>

  /**
   * Resolves once an event after `position` may be readable, or after `timeoutMs`, or when the
   * signal aborts: the live part of a subscription waits here instead of spinning.
   */
  waitForEvents(position: number, options: WaitOptions): Promise<void>

  /** The stored snapshot of `name` for a stream, if any (whatever its schemaVersion). */
  readSnapshot<State = unknown>(streamId: string, name: string): Promise<Snapshot<State> | undefined>
  /** Stores a snapshot, replacing the previous one of the same stream and name. */
  writeSnapshot(snapshot: Omit<Snapshot, 'timestamp'>): Promise<void>

  /** A subscription's stored position (`undefined`: never stored). */
  readCheckpoint(name: string): Promise<number | undefined>
  writeCheckpoint(name: string, position: number): Promise<void>

  /** Where asynchronous projections keep their documents and positions (projections.ts). */
  projections(): ProjectionStorage

  close(): Promise<void>
}

/** Options both stores take. */
export interface EventStoreOptions {
  /**
   * Schemas per event type: an appended event of a listed type must pass its schema, or the
   * append fails with `InvalidEventError` and writes nothing. Types not listed pass as they are.
   */
  schemas?: Readonly<Record<string, StandardSchemaV1>>
  /** Largest accepted event (type, data and metadata as JSON; default 1 MiB). */
  maxEventBytes?: number
}
