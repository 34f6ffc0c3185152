/**
 * Committed state of the tasks a group worker owns, in memory: filled from the changelog
 * topics when a task is assigned, updated at each commit, dropped when the task moves away.
 * Keys are the stores' backend keys, `<store>\0<partition>\0<key>`.
 */
import { cloneState, DELETED, type StateBackend } from '../state.ts'

export class MapBackend implements StateBackend {
  readonly data = new Map<string, unknown>()

  get(key: string): unknown {
    return this.data.get(key)
  }

  *scan(prefix: string): Iterable<[string, unknown]> {
    for (const [k, v] of this.data) if (k.startsWith(prefix)) yield [k, v]
  }

  /** Values are copied: the stores keep changing theirs in place. */
  write(writes: Map<string, unknown>): void {
    for (const [k, v] of writes) {
      if (v === DELETED) this.data.delete(k)
      else this.data.set(k, cloneState(v))
    }
  }

  /** Forgets one task's entries of a store (the task moved to another worker, or is rebuilt). */
  dropPartition(store: string, partition: number): void {
    const prefix = `${store}\0${partition}\0`
    for (const k of this.data.keys()) if (k.startsWith(prefix)) this.data.delete(k)
  }
}
