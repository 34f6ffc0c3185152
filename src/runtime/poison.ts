/**
 * Poison records a task has failed on since its last commit, so the task that replaces it can
 * dead-letter them without processing them again.
 *
 * Why a rewind instead of an undo: steps and built-in aggregations change their state objects
 * in place (accumulators, window slices, pattern runs, join buffers), so undoing one record's
 * writes would need a copy of everything it might touch, for every record. Instead a stateful
 * task that sees a step fail stops (`Task.rewindFor`); its runner rebuilds it from committed
 * state and committed input positions, handing it these records; the replay skips them and the
 * runner commits as soon as it has passed one. Nothing is paid until a record fails.
 */
import type { DeadLetter } from './task.ts'

export class PoisonRecords {
  /** `<topic>\0<offset>` → the failure, as first seen (a task reads one partition per topic). */
  readonly #known = new Map<string, DeadLetter>()

  get size(): number {
    return this.#known.size
  }

  add(failure: DeadLetter): void {
    const origin = failure.origin
    if (origin) this.#known.set(`${origin.topic}\0${origin.offset}`, failure)
  }

  /** The failure of a known poison record at this offset, if it is one. */
  get(topic: string, offset: number): DeadLetter | undefined {
    return this.#known.get(`${topic}\0${offset}`)
  }

  /**
   * Forgets the records a commit moves past. That commit may still fail (a rebalance on a
   * consumer group): the replay after it then meets the record again, and a record that fails
   * every time is found again by the same rewind.
   */
  forgetBelow(positions: ReadonlyMap<string, number>): void {
    for (const [key, f] of this.#known) {
      const position = positions.get(f.origin!.topic)
      if (position !== undefined && f.origin!.offset < position) this.#known.delete(key)
    }
  }
}
