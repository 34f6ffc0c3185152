/**
 * A worker's state backend: committed state from LMDB, overlaid with the state changes the
 * worker has handed to the main thread and that are not committed yet.
 *
 * Why the overlay: a store's write cache forgets a deleted entry once its delete is taken
 * for a commit, and a cache miss falls through to the backend. In a worker, the commit
 * happens later on another thread, so until the main thread says `committed`, LMDB still
 * holds the old value: without the overlay a deleted window could come back. Rounds commit
 * in order, so `committed(round)` drops every overlay up to that round.
 */
import type { Database } from 'lmdb'
import { DELETED, type StateBackend } from '../state.ts'

interface Pending {
  round: number
  /** Backend key → value, or DELETED. */
  writes: Map<string, unknown>
}

export class CommittedState implements StateBackend {
  readonly #db: Database<unknown, string>
  readonly #refresh: () => void
  /** Oldest first. */
  #pending: Pending[] = []

  /** `refresh` starts a new read snapshot, so reads after a commit see it. */
  constructor(db: Database<unknown, string>, refresh: () => void) {
    this.#db = db
    this.#refresh = refresh
  }

  get(key: string): unknown {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const writes = this.#pending[i]!.writes
      if (writes.has(key)) {
        const v = writes.get(key)
        return v === DELETED ? undefined : v
      }
    }
    return this.#db.get(key)
  }

  *scan(prefix: string): Iterable<[string, unknown]> {
    const end = `${prefix}\uffff`
    const overlay = new Map<string, unknown>()
    for (const { writes } of this.#pending) {
      for (const [k, v] of writes) if (k >= prefix && k < end) overlay.set(k, v)
    }
    for (const { key, value } of this.#db.getRange({ start: prefix, end })) {
      if (!overlay.has(key)) yield [key, value]
    }
    for (const [k, v] of overlay) if (v !== DELETED) yield [k, v]
  }

  /** The main thread writes state, inside its commit; a worker never does. */
  write(): void {
    throw new Error('a worker does not write state: the main thread commits it')
  }

  /** Keeps a round's state changes visible until the main thread has committed them. */
  pending(round: number, writes: Map<string, unknown>): void {
    if (writes.size > 0) this.#pending.push({ round, writes })
  }

  /**
   * True when no state handed over in a round up to `round` waits for its commit. The overlay
   * holds the very objects the tasks handed over, which a step may go on changing in place:
   * state to rebuild a task from must come from LMDB (what the main thread cloned and wrote).
   */
  settledThrough(round: number): boolean {
    return this.#pending.length === 0 || this.#pending[0]!.round > round
  }

  /** Rounds up to `round` are in LMDB: read them from there (from a fresh snapshot). */
  committed(round: number): void {
    this.#refresh()
    if (this.#pending.length > 0) this.#pending = this.#pending.filter((p) => p.round > round)
  }
}
