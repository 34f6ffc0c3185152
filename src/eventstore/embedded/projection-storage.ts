/**
 * Projection documents and positions in the embedded store's LMDB environment. A batch's
 * writes are collected in memory while `apply` runs (it may await), then applied together
 * with the new position in one LMDB transaction that first checks the stored position: the
 * same all-or-nothing a PostgreSQL transaction gives, without holding LMDB's write lock
 * across the projection's awaits.
 */
import {
  checkDocument,
  type ProjectionStorage,
  type ProjectionTx,
  StalePositionError,
} from '../projections.ts'
import type { EventStorage } from './storage.ts'

const positionKey = (name: string) => `projection:${name}`
const docKey = (name: string, key: string) => `${name}\0${key}`

export class EmbeddedProjectionStorage implements ProjectionStorage {
  readonly #storage: () => EventStorage
  readonly #transaction: <T>(fn: () => T) => Promise<T>

  constructor(storage: () => EventStorage, transaction: <T>(fn: () => T) => Promise<T>) {
    this.#storage = storage
    this.#transaction = transaction
  }

  async position(name: string): Promise<number> {
    return this.#storage().checkpoints.get(positionKey(name)) ?? 0
  }

  async commit(
    name: string,
    from: number,
    to: number,
    work: (tx: ProjectionTx) => void | Promise<void>,
  ): Promise<void> {
    const writes = new Map<string, string | null>()
    await work(this.#tx(name, writes))
    const { checkpoints, projections } = this.#storage()
    const stored = await this.#transaction(() => {
      const at = checkpoints.get(positionKey(name)) ?? 0
      if (at !== from) return at
      for (const [key, value] of writes) {
        if (value === null) projections.remove(docKey(name, key))
        else projections.put(docKey(name, key), value)
      }
      checkpoints.put(positionKey(name), to)
      return from
    })
    if (stored !== from) throw new StalePositionError(name, from, stored)
  }

  async reset(name: string, work?: (tx: ProjectionTx) => void | Promise<void>): Promise<void> {
    // Here a projection has nothing but its documents, which the reset deletes anyway.
    if (work) await work(this.#tx(name, new Map()))
    const { checkpoints, projections } = this.#storage()
    await this.#transaction(() => {
      for (const key of projections.getKeys({ start: `${name}\0`, end: `${name}\x01` }))
        projections.remove(key)
      checkpoints.remove(positionKey(name))
    })
  }

  async get<T = unknown>(name: string, key: string): Promise<T | undefined> {
    const raw = this.#storage().projections.get(docKey(name, key))
    return raw === undefined ? undefined : (JSON.parse(raw) as T)
  }

  async entries(name: string): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>()
    const prefix = `${name}\0`
    for (const { key, value } of this.#storage().projections.getRange({
      start: prefix,
      end: `${name}\x01`,
    })) {
      out.set(key.slice(prefix.length), JSON.parse(value))
    }
    return out
  }

  #tx(name: string, writes: Map<string, string | null>): ProjectionTx {
    return {
      get: async <T>(key: string) => {
        if (writes.has(key)) {
          const pending = writes.get(key)
          return pending === null || pending === undefined ? undefined : (JSON.parse(pending) as T)
        }
        return this.get<T>(name, key)
      },
      put: async (key, value) => {
        writes.set(key, checkDocument(name, key, value))
      },
      delete: async (key) => {
        writes.set(key, null)
      },
      sql: undefined,
    }
  }
}
