/**
 * Global tables of one process: the latest value per key of every partition of each global
 * table's topic, shared by all the process's tasks (`p.globalTable(topic)`).
 *
 * Unlike partitioned tables they are not task state: a runner bootstraps them — reads every
 * partition to its end — before its tasks process a record, then catches up as it goes
 * (EmbeddedRunner and GroupRunner between batches). Nothing of them is committed: the topic
 * is their changelog, and a restarted process reads it again (Kafka Streams' global stores
 * work the same way). A join sees how far the table has been read, not its state at the
 * record's event time; a record that fails to decode is skipped and counted in `invalid`.
 */
import type { TopicDef } from '../dsl/topic.ts'
import type { Log, LogRecord } from '../log/types.ts'
import { decoderFor } from './task.ts'

interface GlobalTable {
  store: string
  topic: string
  decode: (record: LogRecord) => { key: string | null; value: unknown } | string
  values: Map<string, unknown>
}

export class GlobalTables {
  readonly #tables = new Map<string, GlobalTable>()
  /** `<topic>\0<partition>` → the next offset to read. */
  readonly #positions = new Map<string, number>()
  /** Records skipped because they did not decode (or had no key). */
  invalid = 0

  constructor(specs: ReadonlyArray<{ store: string; def: TopicDef<unknown> }>) {
    for (const { store, def } of specs) {
      this.#tables.set(store, { store, topic: def.name, decode: decoderFor(def, true), values: new Map() })
    }
  }

  get size(): number {
    return this.#tables.size
  }

  /** The current values of one global table (empty when the store is unknown). */
  table(store: string): ReadonlyMap<string, unknown> {
    return this.#tables.get(store)?.values ?? new Map()
  }

  /** Applies one record of a global table's topic: an upsert, or a delete for a tombstone. */
  apply(topic: string, record: LogRecord): void {
    for (const t of this.#tables.values()) {
      if (t.topic !== topic) continue
      const decoded = t.decode(record)
      if (typeof decoded === 'string' || decoded.key === null) {
        this.invalid++
        continue
      }
      if (decoded.value === null) t.values.delete(decoded.key)
      else t.values.set(decoded.key, decoded.value)
    }
  }

  /** Reads every partition of every global table to its end as of now. Returns records read. */
  async bootstrap(log: Log): Promise<number> {
    let n = 0
    for (;;) {
      const read = await this.catchUp(log, 50_000)
      n += read
      if (read === 0) return n
    }
  }

  /** Reads what was appended since the last call, up to `maxRecords` per partition. */
  async catchUp(log: Log, maxRecords = 10_000): Promise<number> {
    let n = 0
    for (const topic of new Set([...this.#tables.values()].map((t) => t.topic))) {
      const { partitionDetails } = await log.describeTopic(topic)
      for (const { partition } of partitionDetails) {
        const key = `${topic}\0${partition}`
        const tp = { topic, partition }
        let offset = this.#positions.get(key)
        if (offset === undefined) offset = await log.resolveOffset(tp, 'earliest')
        const records = await log.fetch(tp, offset, { maxRecords, waitMs: 0 })
        for (const r of records) this.apply(topic, r)
        if (records.length > 0) offset = records[records.length - 1]!.offset + 1
        this.#positions.set(key, offset)
        n += records.length
      }
    }
    return n
  }
}
