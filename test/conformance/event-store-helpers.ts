/** Helpers of the event store conformance suite. */
import assert from 'node:assert/strict'
import { after } from 'node:test'
import { isSluiceError, type SluiceErrorCode } from '../../src/errors.ts'
import type { EventStore, EventStoreOptions, RecordedEvent } from '../../src/eventstore/types.ts'
import { openTarget, type StoreConfig } from './event-store-target.ts'

export interface StoreTarget {
  config: StoreConfig
  /** Removes what the target holds (a directory, a schema). The stores on it are closed first. */
  cleanup(): Promise<void>
}

/** Where backends legitimately differ; the suite asserts the stricter behaviour when a backend has it. */
export interface EventStoreCapabilities {
  /**
   * Positions are 1, 2, 3, … with no holes (embedded). On PostgreSQL a refused or rolled-back
   * append leaves its reserved positions unused: the order readers see is still gap-free.
   */
  densePositions: boolean
}

export interface EventStoreHarness {
  /** A fresh, empty place for a store. */
  newTarget(): Promise<StoreTarget>
  capabilities: EventStoreCapabilities
}

/** Opens a store on a fresh target, closed and removed when the test file ends. */
export async function freshStore(
  harness: EventStoreHarness,
  options: EventStoreOptions = {},
): Promise<{ store: EventStore; target: StoreTarget }> {
  const target = await harness.newTarget()
  const store = await openTarget(target.config, options)
  after(async () => {
    await store.close()
    await target.cleanup()
  })
  return { store, target }
}

export function rejectsWith(code: SluiceErrorCode, name?: string) {
  return (error: unknown) => {
    assert.ok(isSluiceError(error, code), `expected ${code}, got ${(error as Error)?.stack ?? error}`)
    if (name) assert.equal((error as Error).name, name)
    return true
  }
}

/**
 * Waits until readers can see `position`. On PostgreSQL a transaction left open elsewhere in the
 * cluster holds the horizon back for a while: tests wait for it instead of failing.
 */
export async function caughtUp(store: EventStore, position: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await store.headPosition()) < position) {
    if (Date.now() > deadline) {
      assert.fail(`position ${position} did not become readable within ${timeoutMs} ms`)
    }
    await store.waitForEvents(position - 1, { timeoutMs: 200 })
  }
}

/** Every readable event after `after`, page by page (checking that pages follow each other). */
export async function readEverything(store: EventStore, after = 0, limit = 500): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = []
  let position = after
  for (;;) {
    const page = await store.readAll({ after: position, limit })
    for (const e of page.events) {
      assert.ok(e.position > position, `page after ${position} returned position ${e.position}`)
      position = e.position
      out.push(e)
    }
    assert.ok(page.position >= position, 'a page never reports less progress than its events')
    position = page.position
    if (page.events.length < limit) return out
  }
}

/** Waits until `count` parties arrive, then lets them all go; reusable round after round. */
export class Barrier {
  readonly #count: number
  #waiting: Array<() => void> = []

  constructor(count: number) {
    this.#count = count
  }

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve)
      if (this.#waiting.length === this.#count) {
        const release = this.#waiting
        this.#waiting = []
        for (const r of release) r()
      }
    })
  }
}

export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}
