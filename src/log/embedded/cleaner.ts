/**
 * Retention and compaction. Both only ever touch committed batches, and each partition's
 * work is one LMDB write transaction, so a crash leaves either the old or the new layout.
 *
 * Retention deletes whole batches from the head of a partition: those whose newest record is
 * older than `retentionMs`, and the oldest ones while the partition is over `retentionBytes`.
 * Compaction rewrites batches keeping, per key, only the record with the highest offset;
 * survivors keep their offsets. A tombstone (null value) is kept while younger than
 * `TOMBSTONE_RETENTION_MS` so that readers catching up see the delete, then removed too. The
 * newest batch of a partition is never compacted (it is where appends land, as Kafka's
 * active segment).
 */
import type { LogRecord } from '../types.ts'
import { decodeBatch, encodeBatch, readBatchInfo, recordSize } from './batch-codec.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import type { PartitionState } from './partition-state.ts'
import {
  baseOffsetOfKey,
  batchKey,
  decodeIndexEntry,
  decodePartitionMeta,
  encodeIndexEntry,
  encodePartitionMeta,
  partitionKey,
  type TopicRecord,
} from './storage.ts'

export const TOMBSTONE_RETENTION_MS = 24 * 3_600_000

export async function runCleanup(
  log: EmbeddedLog,
  topics: ReadonlyArray<{ record: TopicRecord; parts: PartitionState[] }>,
  now: number,
): Promise<{ deletedBatches: number; compactedRecords: number }> {
  let deletedBatches = 0
  let compactedRecords = 0
  for (const { record, parts } of topics) {
    for (const part of parts) {
      if (record.retentionMs !== null || record.retentionBytes !== null) {
        deletedBatches += await applyRetention(log, part, now)
      }
      if (record.compact) compactedRecords += await compact(log, part, now)
    }
  }
  return { deletedBatches, compactedRecords }
}

function rangeOf(part: PartitionState) {
  return {
    start: batchKey(part.topic.id, part.partition, 0),
    end: batchKey(part.topic.id, part.partition + 1, 0),
  }
}

async function applyRetention(log: EmbeddedLog, part: PartitionState, now: number): Promise<number> {
  const { retentionMs, retentionBytes } = part.topic
  const doomed: Buffer[] = []
  let freed = 0
  let newStart = part.startOffset
  let remaining = part.bytes
  for (const { key, value } of log.storage.index.getRange(rangeOf(part))) {
    const base = baseOffsetOfKey(key)
    const entry = decodeIndexEntry(value)
    if (base + entry.lastOffsetDelta >= part.highWatermark) break
    const tooOld = retentionMs !== null && entry.maxTimestamp < now - retentionMs
    const tooBig = retentionBytes !== null && remaining > retentionBytes
    if (!tooOld && !tooBig) {
      newStart = base
      break
    }
    doomed.push(key)
    freed += entry.bytes
    remaining -= entry.bytes
    newStart = base + entry.lastOffsetDelta + 1
  }
  if (doomed.length === 0) return 0
  await removeBatches(log, part, doomed, newStart)
  part.bytes -= freed
  part.batches -= doomed.length
  return doomed.length
}

/**
 * Deletes the records below `offset`: the batches wholly below it, and the start offset moves
 * to it (a batch it falls inside stays, its records below the start unreadable).
 */
export async function deleteBefore(log: EmbeddedLog, part: PartitionState, offset: number): Promise<void> {
  const doomed: Buffer[] = []
  let freed = 0
  for (const { key, value } of log.storage.index.getRange(rangeOf(part))) {
    const entry = decodeIndexEntry(value)
    if (baseOffsetOfKey(key) + entry.lastOffsetDelta >= offset) break
    doomed.push(key)
    freed += entry.bytes
  }
  await removeBatches(log, part, doomed, offset)
  part.bytes -= freed
  part.batches -= doomed.length
}

async function removeBatches(log: EmbeddedLog, part: PartitionState, keys: Buffer[], newStart: number) {
  const { env, batches, index, partitions } = log.storage
  await env.transaction(() => {
    for (const key of keys) {
      batches.remove(key)
      index.remove(key)
    }
    const pk = partitionKey(part.topic.id, part.partition)
    const stored = partitions.get(pk)
    const nextOffset = stored ? decodePartitionMeta(stored).nextOffset : part.highWatermark
    partitions.put(pk, encodePartitionMeta(nextOffset, newStart))
    // Set here, on the JS thread inside the transaction, so that commits queued after this one
    // persist the new start offset too.
    part.startOffset = newStart
  })
}

async function compact(log: EmbeddedLog, part: PartitionState, now: number): Promise<number> {
  const origin = part.tp
  const entries: Array<{ key: Buffer; base: number; records: LogRecord[] }> = []
  const latest = new Map<string, number>()
  for (const { key, value } of log.storage.batches.getRange(rangeOf(part))) {
    const base = baseOffsetOfKey(key)
    if (base >= part.highWatermark) break
    const records: LogRecord[] = []
    decodeBatch(value, origin, base, 0, records, Number.POSITIVE_INFINITY)
    for (const r of records) latest.set(Buffer.from(r.key!).toString('latin1'), r.offset)
    entries.push({ key, base, records })
  }
  entries.pop() // the newest batch stays as it is
  const rewrites: Array<{ key: Buffer; batch: Buffer | null; bytesBefore: number }> = []
  let dropped = 0
  for (const { key, base, records } of entries) {
    const keep = records.filter((r) => {
      if (latest.get(Buffer.from(r.key!).toString('latin1')) !== r.offset) return false
      return r.value !== null || r.timestamp >= now - TOMBSTONE_RETENTION_MS
    })
    if (keep.length === records.length) continue
    dropped += records.length - keep.length
    const stored = log.storage.batches.get(key)!
    const info = readBatchInfo(stored, origin, base)
    const batch =
      keep.length === 0
        ? null
        : encodeBatch(
            keep,
            keep.map(recordSize),
            base,
            // The rewritten batch keeps its append time (and every kept record has a timestamp).
            info.appendTime,
            info.producerId,
            info.baseSequence,
            keep.map((r) => r.offset - base),
          )
    rewrites.push({ key, batch, bytesBefore: info.bytes })
  }
  if (rewrites.length === 0) return 0
  const { env, batches, index } = log.storage
  let firstKept: number | null = null
  await env.transaction(() => {
    for (const { key, batch } of rewrites) {
      if (batch === null) {
        batches.remove(key)
        index.remove(key)
        continue
      }
      batches.put(key, batch)
      const entry = decodeIndexEntry(index.get(key)!)
      index.put(key, encodeIndexEntry({ ...entry, count: batch.readUInt32LE(12), bytes: batch.length }))
    }
    for (const k of index.getKeys({ ...rangeOf(part), limit: 1 })) firstKept = baseOffsetOfKey(k)
  })
  // Reads decode the rewritten batches from here on, not the one a read stopped inside.
  part.lastBatch = null
  for (const { batch, bytesBefore } of rewrites) {
    part.bytes += (batch?.length ?? 0) - bytesBefore
    if (batch === null) part.batches--
  }
  if (firstKept !== null && firstKept > part.startOffset) await removeBatches(log, part, [], firstKept)
  return dropped
}
