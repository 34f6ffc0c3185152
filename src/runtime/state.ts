/**
 * Keyed state. A store is a key-value map per task (store name + partition) with a write
 * cache: reads hit the cache first, writes stay in the cache and are marked dirty, and
 * `takeWrites()` hands the dirty entries to the task's commit, which writes them in the same
 * LMDB transaction as the outputs and input offsets. That is what makes state exactly-once.
 */

/** Marks a deleted entry in the cache until the delete is committed. */
export const DELETED: unique symbol = Symbol('deleted')

/** Where committed state lives: LMDB on the embedded log, a Map in the test driver. */
export interface StateBackend {
  get(key: string): unknown
  /** Entries whose key starts with `prefix`, committed state only. */
  scan(prefix: string): Iterable<[string, unknown]>
  /** Applies writes; on LMDB this runs inside the commit transaction. */
  write(writes: Map<string, unknown>): void
}

/**
 * Committed state in memory: the test driver's, and a group worker's (filled from changelog
 * topics when a task is assigned, updated at each commit, dropped when the task moves away).
 */
export class MemoryBackend implements StateBackend {
  readonly data = new Map<string, unknown>()

  /**
   * Values are copied out as well as in: a store caches what it reads and a step may change
   * it in place, which must not change the committed state a task is rebuilt from (a rewind
   * after a poison record or a failed commit). Reads reach here only on a store's cache miss.
   */
  get(key: string): unknown {
    return cloneState(this.data.get(key))
  }

  *scan(prefix: string): Iterable<[string, unknown]> {
    for (const [k, v] of this.data) if (k.startsWith(prefix)) yield [k, cloneState(v)]
  }

  /** Values are copied: the stores keep changing theirs in place. */
  write(writes: Map<string, unknown>): void {
    for (const [k, v] of writes) {
      if (v === DELETED) this.data.delete(k)
      else this.data.set(k, cloneState(v))
    }
  }

  /** Forgets one task's entries of a store (the task moved away, or is rebuilt). */
  dropPartition(store: string, partition: number): void {
    const prefix = `${store}\0${partition}\0`
    for (const k of this.data.keys()) if (k.startsWith(prefix)) this.data.delete(k)
  }
}

/**
 * Copies the object values of taken writes. A commit that serializes them later (LMDB's
 * transaction callback runs after more records were processed) must write this copy: a step
 * that mutates its state in place would otherwise commit state ahead of the offsets
 * committed with it.
 */
export function snapshotWrites(writes: Map<string, unknown>): Map<string, unknown> {
  const copy = new Map<string, unknown>()
  for (const [k, v] of writes) copy.set(k, cloneState(v))
  return copy
}

/**
 * A deep copy of a state value. Plain objects and arrays (what state almost always holds) are
 * copied in JS, several times faster than `structuredClone`, which serializes and
 * deserializes; anything else (Map, Set, Date, typed arrays) goes through `structuredClone`.
 */
export function cloneState(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) {
    const a = new Array(v.length)
    for (let i = 0; i < v.length; i++) a[i] = cloneState(v[i])
    return a
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return structuredClone(v)
  const o: Record<string, unknown> = {}
  for (const k in v) {
    const x = cloneState((v as Record<string, unknown>)[k])
    // An own "__proto__" key (JSON.parse makes them) must stay a key, not become the prototype.
    if (k === '__proto__')
      Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true })
    else o[k] = x
  }
  return o
}

/** What a task needs from each of its stores at commit time. */
export interface TaskStore {
  readonly name: string
  /** Moves the writes since the last call into `into` (backend key → value or DELETED). */
  takeWrites(into: Map<string, unknown>): void
  /** The oldest taken batch of writes is committed. */
  committed(): void
  /** Committed and pending entries, keyed as the store keys them (for inspection). */
  entries(): Iterable<[string, unknown]>
  /** Entries held in memory (a size figure for metrics). */
  readonly cachedEntries: number
}

/** Entry with an expiry (processing time), for stores with a TTL. */
interface Expiring {
  readonly __ttl: number
  readonly v: unknown
}

export class KeyValueStore<V = unknown> implements TaskStore {
  readonly name: string
  readonly partition: number
  readonly #prefix: string
  readonly #backend: StateBackend
  readonly #cache = new Map<string, unknown>()
  #dirty = new Set<string>()
  /** Keys deleted per taken-but-not-yet-committed batch of writes, oldest first. */
  readonly #inflightDeletes: string[][] = []
  readonly #ttl: number
  readonly #now: () => number
  #size = 0
  /**
   * TTL stores: (expiry, key) in the order written. The TTL is one per store and the clock
   * moves forward, so expiries arrive in order and the due ones are at the head: a sweep
   * looks only at them, not at every entry (it did, at every tick). A key written again has a
   * later entry too; the earlier one finds the key not yet due and is dropped.
   */
  #expiries: Array<[number, string]> | null = null
  #expiryHead = 0
  /** Keys `putNew` wrote since the last `takeWrites`: not in the backend, so a delete forgets them. */
  #fresh: Set<string> | null = null
  /** Called at the start of each `takeWrites`: an owner that writes its changes only then. */
  #beforeTake: (() => void) | null = null

  constructor(
    name: string,
    partition: number,
    backend: StateBackend,
    options: { ttl?: number; now?: () => number } = {},
  ) {
    this.name = name
    this.partition = partition
    this.#prefix = `${name}\0${partition}\0`
    this.#backend = backend
    this.#ttl = options.ttl ?? 0
    this.#now = options.now ?? Date.now
  }

  get(key: string): V | undefined {
    let v = this.#cache.get(key)
    if (v === undefined) {
      v = this.#backend.get(this.#prefix + key)
      if (v === undefined) return undefined
      this.#cache.set(key, v)
    }
    if (v === DELETED) return undefined
    if (this.#ttl > 0) {
      const e = v as Expiring
      if (e.__ttl <= this.#now()) {
        this.delete(key)
        return undefined
      }
      return e.v as V
    }
    return v as V
  }

  put(key: string, value: V): void {
    if (this.#ttl > 0) {
      const expiry = this.#now() + this.#ttl
      this.#cache.set(key, { __ttl: expiry, v: value } satisfies Expiring)
      this.#expiries?.push([expiry, key])
    } else {
      this.#cache.set(key, value)
    }
    this.#dirty.add(key)
  }

  /**
   * `put` of a key the caller knows has no committed value (a new sequence number, or a key
   * `get` just found missing). Deleted before the next commit, it then leaves nothing to write:
   * no delete of a key the backend never had. A stream join's records that expire within a
   * commit interval are the case. A key whose delete is still on its way to the backend is
   * written the ordinary way: forgetting it would forget that delete.
   */
  putNew(key: string, value: V): void {
    const pendingDelete = this.#cache.get(key) === DELETED
    this.put(key, value)
    if (pendingDelete) return
    if (this.#fresh === null) this.#fresh = new Set()
    this.#fresh.add(key)
  }

  delete(key: string): void {
    if (this.#fresh?.delete(key)) {
      this.#cache.delete(key)
      this.#dirty.delete(key)
      return
    }
    this.#cache.set(key, DELETED)
    this.#dirty.add(key)
  }

  /** Committed and cached entries, newest value per key (used to rebuild indexes on start). */
  *entries(): Iterable<[string, V]> {
    const seen = new Set<string>()
    for (const [k, v] of this.#cache) {
      seen.add(k)
      if (v !== DELETED) yield [k, (this.#ttl > 0 ? (v as Expiring).v : v) as V]
    }
    for (const [full, v] of this.#backend.scan(this.#prefix)) {
      const k = full.slice(this.#prefix.length)
      if (!seen.has(k)) yield [k, (this.#ttl > 0 ? (v as Expiring).v : v) as V]
    }
  }

  /**
   * The dirty entries as backend keys → values (or DELETED), and a clean slate. Deletes stay
   * in the cache as DELETED until `committed()` says their transaction landed: dropped any
   * earlier, a read in between would fall through to the backend and find the old value.
   */
  /**
   * Registers what to call at the start of each `takeWrites`: for an owner that keeps its
   * changes in memory and writes them only when a commit takes them (the stream join: most of
   * its records leave before that).
   */
  beforeTakeWrites(fn: () => void): void {
    this.#beforeTake = fn
  }

  takeWrites(into: Map<string, unknown>): void {
    this.#beforeTake?.()
    // Written from now on: a delete must reach the backend.
    this.#fresh = null
    if (this.#dirty.size === 0) {
      this.#inflightDeletes.push([])
      return
    }
    const deletes: string[] = []
    for (const k of this.#dirty) {
      const v = this.#cache.get(k)
      // Live values: a backend that serializes later must snapshot them (snapshotWrites).
      into.set(this.#prefix + k, v)
      if (v === DELETED) deletes.push(k)
    }
    this.#inflightDeletes.push(deletes)
    this.#size = this.#cache.size
    this.#dirty = new Set()
  }

  /** The oldest taken batch of writes is committed: forget its deletes (unless re-written). */
  committed(): void {
    const deletes = this.#inflightDeletes.shift()
    if (!deletes) return
    for (const k of deletes) if (this.#cache.get(k) === DELETED && !this.#dirty.has(k)) this.#cache.delete(k)
  }

  /** Entries held in the cache (a size figure for metrics). */
  get cachedEntries(): number {
    return this.#size
  }

  /** Drops expired entries (TTL stores); called from the task's processing-time tick. */
  expire(now: number): void {
    if (this.#ttl === 0) return
    if (this.#expiries === null) {
      // First sweep: the committed entries, in expiry order; later writes append in order.
      this.#expiries = []
      for (const [k] of this.entries()) {
        const raw = this.#cache.get(k) ?? this.#backend.get(this.#prefix + k)
        if (raw !== undefined && raw !== DELETED) this.#expiries.push([(raw as Expiring).__ttl, k])
      }
      this.#expiries.sort((a, b) => a[0] - b[0])
    }
    const queue = this.#expiries
    while (this.#expiryHead < queue.length && queue[this.#expiryHead]![0] <= now) {
      const k = queue[this.#expiryHead++]![1]
      const raw = this.#cache.get(k) ?? this.#backend.get(this.#prefix + k)
      if (raw !== undefined && raw !== DELETED && (raw as Expiring).__ttl <= now) this.delete(k)
    }
    // Drop the swept head now and then, so the queue holds what is still to come.
    if (this.#expiryHead > 1_024 && this.#expiryHead * 2 > queue.length) {
      queue.splice(0, this.#expiryHead)
      this.#expiryHead = 0
    }
  }
}
