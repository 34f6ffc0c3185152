/**
 * The embedded event store: LMDB in `<dataDir>/events`, one process at a time (a LOCK file, as
 * the log's data directory has).
 *
 * An append is one LMDB transaction callback: it checks idempotence and the expected version
 * against what is stored (including appends queued before it in the same LMDB transaction),
 * then writes the events, the stream index, the ids and the new head. lmdb-js runs queued
 * callbacks one after the other in one write transaction (group commit), so appends are
 * serialised: global positions are handed out in commit order, dense, and a reader — which
 * only ever sees whole committed transactions — can never see position p without p − 1.
 * The callback decides before it writes, so a refused append never has anything to undo.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { SluiceError } from '../../errors.ts'
import { acquireDataDirLock } from '../../log/embedded/lock.ts'
import type { Durability } from '../../log/embedded/storage.ts'
import {
  ConcurrencyError,
  DuplicateEventIdError,
  SchemaMismatchError,
  storeClosedError,
  UnknownStreamError,
} from '../errors.ts'
import type { ProjectionStorage } from '../projections.ts'
import type {
  AppendOptions,
  AppendResult,
  Event,
  EventStore,
  EventStoreOptions,
  NewEvent,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
  WaitOptions,
} from '../types.ts'
import {
  checkReadAll,
  checkReadStream,
  checkStreamId,
  type ExpectedCheck,
  jsonProblem,
  type PreparedAppend,
  prepareAppend,
} from '../validate.ts'
import { EmbeddedProjectionStorage } from './projection-storage.ts'
import {
  type EventStorage,
  encodeEvent,
  eventsDir,
  FORMAT_VERSION,
  openEventStorage,
  type StoredEvent,
} from './storage.ts'

export interface EmbeddedEventStoreOptions extends EventStoreOptions {
  /** The Sluice data directory; the store lives in `<dataDir>/events`. */
  dataDir: string
  /** `sync` (default): an append resolves once on disk. `interval`: once committed; fsync is LMDB's/the OS's. */
  durability?: Durability
  /**
   * Open for reading only, beside the process that writes (which holds the lock): for the CLI's
   * `read`, `tail` and `state`. Writes are refused; new events are found by polling.
   */
  readOnly?: boolean
}

/** Most entries a filtered `readAll` scans before it returns what it has (and how far it got). */
const SCAN_LIMIT = 10_000

type Outcome =
  | { kind: 'ok'; result: AppendResult; head: number }
  | { kind: 'duplicate'; result: AppendResult }
  | { kind: 'conflict'; actual: number }
  | { kind: 'duplicateId'; id: string; stream: string; version: number }

/**
 * Opens (creating if needed) the embedded event store of a data directory.
 * @example
 * const store = await openEmbeddedEventStore({ dataDir: '.sluice' })
 * await store.append('cart-1', [{ type: 'CartOpened', data: { user: 'ada' } }], { expectedVersion: 'noStream' })
 */
export async function openEmbeddedEventStore(
  options: EmbeddedEventStoreOptions,
): Promise<EmbeddedEventStore> {
  return new EmbeddedEventStore(options)
}

export class EmbeddedEventStore implements EventStore {
  readonly kind = 'embedded'
  readonly dir: string
  readonly #storage: EventStorage
  readonly #options: EventStoreOptions
  readonly #durability: Durability
  readonly #releaseLock: () => void
  readonly #readOnly: boolean
  #closed = false
  /** Last position visible to readers (moves when a commit resolves). */
  #head: number
  /** Timestamps never go backwards in the global order, even if the clock does. */
  #lastTimestamp: number
  readonly #pending = new Set<Promise<unknown>>()
  #projections: EmbeddedProjectionStorage | undefined
  #waiters = new Set<{ position: number; wake: () => void }>()

  constructor(options: EmbeddedEventStoreOptions) {
    this.dir = eventsDir(options.dataDir)
    this.#options = options
    this.#durability = options.durability ?? 'sync'
    this.#readOnly = options.readOnly ?? false
    if (this.#readOnly) {
      if (!existsSync(join(this.dir, 'events.mdb'))) {
        throw new SluiceError(
          'SLUICE_UNKNOWN_STREAM',
          `there is no event store in ${this.dir} yet; append an event first, or open the data directory that holds it`,
        )
      }
      this.#releaseLock = () => {}
    } else {
      mkdirSync(this.dir, { recursive: true })
      this.#releaseLock = acquireDataDirLock(this.dir)
    }
    try {
      this.#storage = openEventStorage(this.dir, this.#durability, this.#readOnly)
      const { meta, events } = this.#storage
      const format = meta.get('format')
      if (format === undefined && this.#readOnly) {
        this.#storage.env.close()
        throw new SchemaMismatchError(
          `${this.dir} holds no event store format marker; open it for writing once first`,
        )
      }
      if (format === undefined) {
        meta.putSync('format', FORMAT_VERSION)
      } else if (format !== FORMAT_VERSION) {
        this.#storage.env.close()
        throw new SchemaMismatchError(
          `the event store in ${this.dir} has format ${format}, this Sluice reads format ${FORMAT_VERSION}; ` +
            `use the Sluice version that wrote it${format > FORMAT_VERSION ? ' (a newer one)' : ''}`,
        )
      }
      this.#head = meta.get('head') ?? 0
      const last = this.#head > 0 ? events.get(this.#head) : undefined
      this.#lastTimestamp = last ? (JSON.parse(last) as StoredEvent).ts : 0
    } catch (error) {
      this.#releaseLock()
      throw error
    }
  }

  async append<E extends Event>(
    streamId: string,
    events: readonly NewEvent<E>[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    this.#assertWritable()
    const prepared = await prepareAppend(streamId, events as readonly NewEvent[], options, this.#options)
    this.#assertOpen()
    const { env } = this.#storage
    const committed = env.transaction(() => this.#apply(prepared))
    // `env.flushed` settles once every write queued so far is on disk: taken now, it covers this one.
    const flushed = this.#durability === 'sync' ? Promise.resolve(env.flushed) : undefined
    flushed?.catch(() => {})
    const done = (async () => {
      const outcome = await committed
      if (outcome.kind === 'conflict')
        throw new ConcurrencyError(streamId, prepared.expectedVersion, outcome.actual)
      if (outcome.kind === 'duplicateId')
        throw new DuplicateEventIdError(outcome.id, outcome.stream, outcome.version)
      if (outcome.kind === 'ok') this.#advance(outcome.head)
      if (flushed) await flushed
      return outcome.result
    })()
    return this.#track(done)
  }

  /** Runs inside the LMDB write transaction: decide first, then write (a refusal writes nothing). */
  #apply(prepared: PreparedAppend): Outcome {
    const { events, streams, streamIndex, ids, meta } = this.#storage
    const { streamId } = prepared
    if (prepared.events.some((e) => ids.get(e.id) !== undefined)) return this.#retried(prepared)
    const current = streams.get(streamId) ?? 0
    if (!holds(prepared.expected, current)) return { kind: 'conflict', actual: current }
    let head = meta.get('head') ?? 0
    let version = current
    const timestamp = Math.max(Date.now(), this.#lastTimestamp)
    this.#lastTimestamp = timestamp
    const firstPosition = head + 1
    for (const e of prepared.events) {
      head++
      version++
      events.put(head, encodeEvent(e, streamId, version, timestamp))
      streamIndex.put([streamId, version], head)
      ids.put(e.id, head)
    }
    streams.put(streamId, version)
    meta.put('head', head)
    return {
      kind: 'ok',
      head,
      result: { nextExpectedVersion: version, firstPosition, lastPosition: head, duplicate: false },
    }
  }

  /**
   * Some ids are stored already. A retry of the same append (every id stored, in this stream,
   * at consecutive versions, in this order) is answered with the original result; anything
   * else reuses an id and is refused.
   */
  #retried(prepared: PreparedAppend): Outcome {
    const { events, ids } = this.#storage
    const stored = prepared.events.map((e) => {
      const position = ids.get(e.id)
      const raw = position === undefined ? undefined : events.get(position)
      return { id: e.id, position, event: raw === undefined ? undefined : (JSON.parse(raw) as StoredEvent) }
    })
    const first = stored[0]!
    for (const [i, s] of stored.entries()) {
      const sameAppend =
        s.event !== undefined &&
        first.event !== undefined &&
        s.event.s === prepared.streamId &&
        s.event.v === first.event.v + i
      if (!sameAppend) {
        const culprit = s.event ? s : stored.find((x) => x.event !== undefined)!
        return {
          kind: 'duplicateId',
          id: culprit.id,
          stream: culprit.event!.s,
          version: culprit.event!.v,
        }
      }
    }
    const last = stored.at(-1)!
    return {
      kind: 'duplicate',
      result: {
        nextExpectedVersion: last.event!.v,
        firstPosition: first.position!,
        lastPosition: last.position!,
        duplicate: true,
      },
    }
  }

  async readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<RecordedEvent<E>[]> {
    this.#assertOpen()
    checkStreamId(streamId)
    const range = checkReadStream(options)
    const { streams, streamIndex } = this.#storage
    const version = streams.get(streamId)
    if (version === undefined) throw new UnknownStreamError(streamId)
    const out: RecordedEvent<E>[] = []
    const positions = range.backward
      ? streamIndex.getRange({
          start: [streamId, Math.min(range.from, version)],
          end: [streamId, 0],
          reverse: true,
          ...(range.maxCount === Infinity ? {} : { limit: range.maxCount }),
        })
      : streamIndex.getRange({
          start: [streamId, range.from],
          end: [streamId, Math.min(range.to, version) + 1],
          ...(range.maxCount === Infinity ? {} : { limit: range.maxCount }),
        })
    for (const { value: position } of positions) out.push(this.#event(position) as RecordedEvent<E>)
    return out
  }

  async streamVersion(streamId: string): Promise<number> {
    this.#assertOpen()
    checkStreamId(streamId)
    return this.#storage.streams.get(streamId) ?? 0
  }

  async readAll(options?: ReadAllOptions): Promise<ReadAllPage> {
    this.#assertOpen()
    const { after, limit, types, streamPrefix } = checkReadAll(options)
    const filtered = types !== undefined || streamPrefix !== undefined
    const events: RecordedEvent[] = []
    let position = after
    let scanned = 0
    for (const { key, value } of this.#storage.events.getRange({ start: after + 1 })) {
      position = key
      const stored = JSON.parse(value) as StoredEvent
      if ((!types || types.has(stored.t)) && (!streamPrefix || stored.s.startsWith(streamPrefix))) {
        events.push(recorded(key, stored))
        if (events.length >= limit) break
      }
      if (filtered && ++scanned >= SCAN_LIMIT) break
    }
    return { events, position }
  }

  async headPosition(): Promise<number> {
    this.#assertOpen()
    if (this.#readOnly) return this.#storage.meta.get('head') ?? 0
    return this.#head
  }

  waitForEvents(position: number, options: WaitOptions): Promise<void> {
    if (this.#readOnly) return this.#pollForEvents(position, options)
    if (this.#closed || this.#head > position || options.signal?.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = { position, wake: () => done() }
      const timer = setTimeout(() => done(), options.timeoutMs)
      const done = () => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', done)
        this.#waiters.delete(waiter)
        resolve()
      }
      options.signal?.addEventListener('abort', done, { once: true })
      this.#waiters.add(waiter)
    })
  }

  /** Read-only: appends come from another process, so there is nothing to be told; poll (5 ms up to 100 ms). */
  async #pollForEvents(position: number, options: WaitOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs
    let delay = 5
    while (!this.#closed && !options.signal?.aborted && (await this.headPosition()) <= position) {
      const left = deadline - Date.now()
      if (left <= 0) return
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)))
      delay = Math.min(delay * 2, 100)
    }
  }

  async readSnapshot<State = unknown>(streamId: string, name: string): Promise<Snapshot<State> | undefined> {
    this.#assertOpen()
    checkStreamId(streamId)
    return this.#storage.snapshots.get([streamId, name]) as Snapshot<State> | undefined
  }

  async writeSnapshot(snapshot: Omit<Snapshot, 'timestamp'>): Promise<void> {
    this.#assertWritable()
    checkStreamId(snapshot.streamId)
    const problem = jsonProblem(snapshot.state, 'state', 0, new Set())
    if (problem)
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `a snapshot's state must be JSON: ${problem}`)
    const { streamId, name, schemaVersion, version } = snapshot
    // Stored as PostgreSQL stores it (JSON), so both stores load the same state back.
    const state: unknown = JSON.parse(JSON.stringify(snapshot.state))
    await this.#write(() =>
      this.#storage.snapshots.put([streamId, name], {
        streamId,
        name,
        schemaVersion,
        version,
        state,
        timestamp: Date.now(),
      }),
    )
  }

  async readCheckpoint(name: string): Promise<number | undefined> {
    this.#assertOpen()
    return this.#storage.checkpoints.get(name)
  }

  async writeCheckpoint(name: string, position: number): Promise<void> {
    this.#assertWritable()
    await this.#write(() => this.#storage.checkpoints.put(name, position))
  }

  /**
   * Runs `fn` inside an LMDB write transaction of this store (with what it returns): the
   * projection runner commits a projection's state and its checkpoint together through it.
   */
  transaction<T>(fn: () => T): Promise<T> {
    this.#assertWritable()
    return this.#track(this.#write(() => this.#storage.env.transaction(fn)))
  }

  projections(): ProjectionStorage {
    this.#assertOpen()
    this.#projections ??= new EmbeddedProjectionStorage(
      () => this.#storage,
      (fn) => this.transaction(fn),
    )
    return this.#projections
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#pending])
    for (const w of this.#waiters) w.wake()
    try {
      await this.#storage.env.close()
    } finally {
      this.#releaseLock()
    }
  }

  #event(position: number): RecordedEvent {
    const raw = this.#storage.events.get(position)
    if (raw === undefined)
      throw new Error(`event store ${this.dir}: the stream index points at missing position ${position}`)
    return recorded(position, JSON.parse(raw) as StoredEvent)
  }

  async #write<T>(fn: () => Promise<T>): Promise<T> {
    const result = fn()
    const flushed = this.#durability === 'sync' ? Promise.resolve(this.#storage.env.flushed) : undefined
    flushed?.catch(() => {})
    const value = await result
    if (flushed) await flushed
    return value
  }

  #advance(head: number): void {
    if (head <= this.#head) return
    this.#head = head
    for (const w of this.#waiters) if (w.position < head) w.wake()
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p)
    const settle = () => this.#pending.delete(p)
    p.then(settle, settle)
    return p
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosedError(this.kind)
    // A read-only reader must see what the writing process committed since its last read.
    if (this.#readOnly) this.#storage.env.resetReadTxn()
  }

  #assertWritable(): void {
    this.#assertOpen()
    if (this.#readOnly) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `the event store in ${this.dir} is open read-only; writes go through the process that owns it`,
      )
    }
  }
}

function holds(expected: ExpectedCheck, current: number): boolean {
  switch (expected.kind) {
    case 'any':
      return true
    case 'noStream':
      return current === 0
    case 'exists':
      return current > 0
    case 'version':
      return current === expected.version
  }
}

function recorded(position: number, s: StoredEvent): RecordedEvent {
  return {
    id: s.i,
    streamId: s.s,
    version: s.v,
    position,
    type: s.t,
    data: s.d,
    metadata: s.m,
    timestamp: s.ts,
  } as RecordedEvent
}
