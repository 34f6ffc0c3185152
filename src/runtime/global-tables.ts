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
import type { Log, LogRecord, TopicPartition } from '../log/types.ts'
import { decoderFor } from './task.ts'

/** Where global tables are read from: a Log, or a worker thread's read-only view of one. */
export interface GlobalSource {
  partitions(topic: string): Promise<number> | number
  start(tp: TopicPartition): Promise<number> | number
  read(tp: TopicPartition, offset: number, maxRecords: number): Promise<LogRecord[]> | LogRecord[]
}

/** A Log as a GlobalSource. */
export function logSource(log: Log): GlobalSource {
  return {
    partitions: async (topic) => (await log.describeTopic(topic)).partitionDetails.length,
    start: (tp) => log.resolveOffset(tp, 'earliest'),
    read: (tp, offset, maxRecords) => log.fetch(tp, offset, { maxRecords, waitMs: 0 }),
  }
}

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
  async bootstrap(from: Log | GlobalSource): Promise<number> {
    let n = 0
    for (;;) {
      const read = await this.catchUp(from, 50_000)
      n += read
      if (read === 0) return n
    }
  }

  /** Reads what was appended since the last call, up to `maxRecords` per partition. */
  async catchUp(from: Log | GlobalSource, maxRecords = 10_000): Promise<number> {
    const source = 'fetch' in from ? logSource(from) : from
    let n = 0
    for (const topic of new Set([...this.#tables.values()].map((t) => t.topic))) {
      const partitions = await source.partitions(topic)
      for (let partition = 0; partition < partitions; partition++) {
        const key = `${topic}\0${partition}`
        const tp = { topic, partition }
        let offset = this.#positions.get(key)
        if (offset === undefined) offset = await source.start(tp)
        const records = await source.read(tp, offset, maxRecords)
        for (const r of records) this.apply(topic, r)
        if (records.length > 0) offset = records[records.length - 1]!.offset + 1
        this.#positions.set(key, offset)
        n += records.length
      }
    }
    return n
  }
}
