/**
 * Changelog topics: on Kafka, a task's state lives in worker memory and every committed change
 * is also written, inside the same Kafka transaction as the outputs and input offsets, to a
 * compacted topic per store. A worker that takes over a task replays those topics to rebuild
 * the state before it processes a record, exactly as Kafka Streams restores its stores.
 *
 * Layout: store `<pipeline>.<step>` → topic `<pipeline>.<step>-changelog`, one partition per
 * task partition (the task on partition p writes partition p). Record key = the store key
 * (UTF-8), value = msgpack of the state value, or null (a tombstone) for a delete, so
 * compaction keeps exactly the live entries.
 */
import { Packr } from 'msgpackr'
import type { Log, ProducerRecord, TopicPartition } from '../../log/types.ts'
import { DELETED } from '../state.ts'
import type { Checkpoint } from './checkpoint.ts'

// Plain msgpack: no shared record structures, so any worker (or version) decodes any record.
const packr = new Packr({ useRecords: false, moreTypes: true })

export function changelogTopic(store: string): string {
  return `${store}-changelog`
}

/**
 * Turns a task's state writes (`<store>\0<partition>\0<key>` → value or DELETED, as
 * `takeWrites` produces them) into changelog records by topic. Encoding here also snapshots
 * the values: a step may change its state in place after this.
 */
export function changelogRecords(
  writes: ReadonlyMap<string, unknown>,
  into: Map<string, ProducerRecord[]>,
): void {
  for (const [full, value] of writes) {
    const a = full.indexOf('\0')
    const b = full.indexOf('\0', a + 1)
    const topic = changelogTopic(full.slice(0, a))
    const partition = Number(full.slice(a + 1, b))
    let list = into.get(topic)
    if (!list) {
      list = []
      into.set(topic, list)
    }
    list.push({
      key: Buffer.from(full.slice(b + 1)),
      value: value === DELETED ? null : packr.pack(value),
      partition,
    })
  }
}

export interface Restored {
  /** Entries loaded from the local checkpoint (0 without one, or when it was not usable). */
  loaded: number
  /** Changelog records replayed. */
  replayed: number
  /** The changelog offset the restored state is complete up to: its end, as of the restore. */
  position: number
}

/**
 * Restores one store partition into `state` (backend keys → values): from the checkpoint when
 * one is given and fits this changelog (its position between the changelog's start and end),
 * then by replaying the changelog from there — or from its start — up to its end as of now
 * (read_committed: what committed transactions wrote).
 */
export async function restoreChangelog(
  log: Log,
  store: string,
  partition: number,
  state: Map<string, unknown>,
  checkpoint: Checkpoint | null = null,
): Promise<Restored> {
  const tp: TopicPartition = { topic: changelogTopic(store), partition }
  const end = await log.resolveOffset(tp, 'latest')
  let offset = await log.resolveOffset(tp, 'earliest')
  const prefix = `${store}\0${partition}\0`
  let loaded = 0
  if (checkpoint && checkpoint.position >= offset && checkpoint.position <= end) {
    for (const [key, value] of checkpoint.entries) state.set(prefix + key, value)
    loaded = checkpoint.entries.length
    offset = checkpoint.position
  }
  let replayed = 0
  while (offset < end) {
    const records = await log.fetch(tp, offset, { maxRecords: 50_000, waitMs: 0 })
    if (records.length === 0) break
    for (const r of records) {
      if (r.offset >= end) break
      const key = prefix + Buffer.from(r.key ?? new Uint8Array()).toString()
      if (r.value === null) state.delete(key)
      else state.set(key, packr.unpack(r.value))
      replayed++
    }
    offset = records[records.length - 1]!.offset + 1
  }
  return { loaded, replayed, position: end }
}
