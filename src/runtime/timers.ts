/**
 * Timers of one task, per operator: event-time timers fire when the watermark passes them,
 * processing-time timers when the clock does. Persisted in a state store (key
 * `<kind>\0<time>\0<key>`), mirrored in a sorted in-memory list for firing.
 */
import type { KeyValueStore } from './state.ts'

export interface Timer {
  kind: 'event' | 'processing'
  time: number
  key: string
}

export class TimerQueue {
  readonly #store: KeyValueStore<Timer>
  #event: Timer[] = []
  #processing: Timer[] = []

  constructor(store: KeyValueStore<Timer>) {
    this.#store = store
    for (const [, t] of store.entries()) this.#insert(t)
  }

  #list(kind: Timer['kind']): Timer[] {
    return kind === 'event' ? this.#event : this.#processing
  }

  #insert(t: Timer): void {
    const list = this.#list(t.kind)
    let i = list.length
    while (i > 0 && list[i - 1]!.time > t.time) i--
    list.splice(i, 0, t)
  }

  register(kind: Timer['kind'], time: number, key: string): void {
    const id = `${kind}\0${time}\0${key}`
    if (this.#store.get(id)) return
    const t = { kind, time, key }
    // Not in the store (get found nothing): a timer that fires before the next commit is never written.
    this.#store.putNew(id, t)
    this.#insert(t)
  }

  /** Removes and returns the timers of `kind` due at `time`, oldest first. */
  due(kind: Timer['kind'], time: number): Timer[] {
    const list = this.#list(kind)
    let n = 0
    while (n < list.length && list[n]!.time <= time) n++
    if (n === 0) return []
    const fired = list.splice(0, n)
    for (const t of fired) this.#store.delete(`${t.kind}\0${t.time}\0${t.key}`)
    return fired
  }

  get size(): number {
    return this.#event.length + this.#processing.length
  }

  next(kind: Timer['kind']): number | undefined {
    return this.#list(kind)[0]?.time
  }
}
