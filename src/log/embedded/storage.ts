/**
 * The LMDB environment behind the embedded log. One environment per data directory holds
 * every topic, the consumer-group offsets, the producer state and (later) the engine's state
 * stores, so that one LMDB write transaction can commit all of them atomically.
 *
 * Sub-databases and their keys (big-endian, so LMDB's byte order is offset order):
 *   topics     name                                   → topic record (msgpack)
 *   batches    topicId:u32 partition:u32 base:u64     → encoded batch (batch-codec.ts)
 *   index      topicId:u32 partition:u32 base:u64     → batch summary (24 bytes, see below)
 *   partitions topicId:u32 partition:u32              → nextOffset:f64 startOffset:f64
 *   offsets    "group\0topic\0partition"              → committed offset
 *   producers  "p:<producerId>:<topicId>:<partition>" → last sequences, and "id:<name>" → identity
 *   meta       string                                 → counters (next topic id, next producer id)
 *   commits    "sequence"                             → the number of commits applied, as the
 *                                                       entry's version (the commit sequence)
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'

export type Durability = 'sync' | 'interval'

export interface StorageOptions {
  dataDir: string
  durability: Durability
}

export interface Storage {
  env: RootDatabase
  topics: Database<TopicRecord, string>
  batches: Database<Buffer, Buffer>
  index: Database<Buffer, Buffer>
  partitions: Database<Buffer, Buffer>
  offsets: Database<number, string>
  producers: Database<unknown, string>
  meta: Database<number, string>
  /**
   * One entry whose version counts the commits applied: each commit is conditional on it, so
   * a commit applies only if every commit queued before it did (`EmbeddedLog.commit()`).
   */
  commits: Database<number, string>
  /** Engine state stores: "<store>\0<partition>\0<key>" → value (msgpack). */
  state: Database<unknown, string>
}

export interface TopicRecord {
  id: number
  name: string
  partitions: number
  retentionMs: number | null
  retentionBytes: number | null
  compact: boolean
  maxRecordBytes: number
  createdAt: number
}

export function openStorage({ dataDir, durability }: StorageOptions): Storage {
  mkdirSync(dataDir, { recursive: true })
  const env = open({
    path: join(dataDir, 'log.mdb'),
    // `sync`: LMDB fsyncs every commit (off the JS thread, overlapping the next commit) and we
    // acknowledge after the flush. `interval`: no fsync per commit; the log calls sync() on a
    // timer. Both survive a process crash: committed pages are in the OS page cache.
    ...(durability === 'sync' ? { overlappingSync: true } : { noSync: true, overlappingSync: false }),
    separateFlushed: true,
    maxDbs: 16,
    // Room for the B-tree to grow without remapping often; LMDB grows the map as needed.
    mapSize: 2 * 1024 ** 3,
    compression: false,
  })
  const binary = { keyEncoding: 'binary', encoding: 'binary' } as const
  return {
    env,
    topics: env.openDB<TopicRecord, string>('topics', { encoding: 'msgpack' }),
    batches: env.openDB<Buffer, Buffer>('batches', binary),
    index: env.openDB<Buffer, Buffer>('index', binary),
    partitions: env.openDB<Buffer, Buffer>('partitions', binary),
    offsets: env.openDB<number, string>('offsets', { encoding: 'msgpack' }),
    producers: env.openDB<unknown, string>('producers', { encoding: 'msgpack' }),
    meta: env.openDB<number, string>('meta', { encoding: 'msgpack' }),
    commits: env.openDB<number, string>('commits', { encoding: 'msgpack', useVersions: true }),
    state: env.openDB<unknown, string>('state', { encoding: 'msgpack' }),
  }
}

/** Key of a batch (and of its index entry). */
export function batchKey(topicId: number, partition: number, baseOffset: number): Buffer {
  const key = Buffer.allocUnsafe(16)
  key.writeUInt32BE(topicId, 0)
  key.writeUInt32BE(partition, 4)
  key.writeUInt32BE(Math.floor(baseOffset / 0x1_0000_0000), 8)
  key.writeUInt32BE(baseOffset >>> 0, 12)
  return key
}

/**
 * The key where reading a partition from `offset` starts: the batch holding it, i.e. the last
 * batch whose base offset is <= offset (or `offset`'s own key when none is stored below it).
 * A reverse range excludes its `end`, so the bound is the 8-byte partition prefix, which sorts
 * before every batch key of the partition, base offset 0 included.
 */
export function floorBatchKey(
  batches: Database<Buffer, Buffer>,
  topicId: number,
  partition: number,
  offset: number,
): Buffer {
  let start = batchKey(topicId, partition, offset)
  for (const key of batches.getKeys({
    start,
    end: partitionKey(topicId, partition),
    reverse: true,
    limit: 1,
  })) {
    start = key
  }
  return start
}

export function baseOffsetOfKey(key: Buffer): number {
  return key.readUInt32BE(8) * 0x1_0000_0000 + key.readUInt32BE(12)
}

export function partitionKey(topicId: number, partition: number): Buffer {
  const key = Buffer.allocUnsafe(8)
  key.writeUInt32BE(topicId, 0)
  key.writeUInt32BE(partition, 4)
  return key
}

/** The batch summary kept beside each batch, so retention and time lookups never decode data. */
export interface IndexEntry {
  lastOffsetDelta: number
  count: number
  bytes: number
  maxTimestamp: number
}

export function encodeIndexEntry(e: IndexEntry): Buffer {
  const buf = Buffer.allocUnsafe(20)
  buf.writeUInt32LE(e.lastOffsetDelta, 0)
  buf.writeUInt32LE(e.count, 4)
  buf.writeUInt32LE(e.bytes, 8)
  buf.writeDoubleLE(e.maxTimestamp, 12)
  return buf
}

export function decodeIndexEntry(buf: Buffer): IndexEntry {
  return {
    lastOffsetDelta: buf.readUInt32LE(0),
    count: buf.readUInt32LE(4),
    bytes: buf.readUInt32LE(8),
    maxTimestamp: buf.readDoubleLE(12),
  }
}

export function encodePartitionMeta(nextOffset: number, startOffset: number): Buffer {
  const buf = Buffer.allocUnsafe(16)
  buf.writeDoubleLE(nextOffset, 0)
  buf.writeDoubleLE(startOffset, 8)
  return buf
}

export function decodePartitionMeta(buf: Buffer): { nextOffset: number; startOffset: number } {
  return { nextOffset: buf.readDoubleLE(0), startOffset: buf.readDoubleLE(8) }
}

export function offsetsKey(group: string, topic: string, partition: number): string {
  return `${group}\0${topic}\0${partition}`
}
