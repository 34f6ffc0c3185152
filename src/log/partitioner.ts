/**
 * Kafka's default partitioner, bit for bit: murmur2 of the key bytes, sign bit cleared,
 * modulo the partition count. A key therefore lands on the same partition number in the
 * embedded log and in Kafka, so a pipeline's state layout survives a backend switch.
 */
import type { Bytes } from './bytes.ts'

export function murmur2(data: Uint8Array): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ length
  const tail = length & ~3
  for (let i = 0; i < tail; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = length & 3
  if (rest === 3) h ^= data[tail + 2]! << 16
  if (rest >= 2) h ^= data[tail + 1]! << 8
  if (rest >= 1) h = Math.imul(h ^ data[tail]!, m)
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka's default partitioner picks for a keyed record. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}

/**
 * `partitionForKey` of a string key's UTF-8 bytes, without making them when the key is ASCII
 * (its bytes are then its char codes): a keyBy hands records over in memory on the embedded
 * runner and needs only the partition, not a Buffer per record.
 */
export function partitionForStringKey(key: string, partitions: number): number {
  if (partitions === 1) return 0
  const length = key.length
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ length
  const tail = length & ~3
  for (let i = 0; i < tail; i += 4) {
    const a = key.charCodeAt(i)
    const b = key.charCodeAt(i + 1)
    const c = key.charCodeAt(i + 2)
    const d = key.charCodeAt(i + 3)
    if ((a | b | c | d) > 0x7f) return partitionForKey(Buffer.from(key), partitions)
    let k = a | (b << 8) | (c << 16) | (d << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = length & 3
  for (let i = tail; i < length; i++)
    if (key.charCodeAt(i) > 0x7f) return partitionForKey(Buffer.from(key), partitions)
  if (rest === 3) h ^= key.charCodeAt(tail + 2) << 16
  if (rest >= 2) h ^= key.charCodeAt(tail + 1) << 8
  if (rest >= 1) h = Math.imul(h ^ key.charCodeAt(tail), m)
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return ((h | 0) & 0x7fffffff) % partitions
}

/** `partitionForKey` of a key given as bytes or as a string (its UTF-8 bytes). */
export function partitionForAnyKey(key: Bytes, partitions: number): number {
  return typeof key === 'string' ? partitionForStringKey(key, partitions) : partitionForKey(key, partitions)
}

/**
 * Picks partitions for records: by key hash when there is a key, round-robin otherwise.
 * One per producer, so round-robin spreads each producer's unkeyed records evenly.
 */
export class Partitioner {
  #next = 0

  partition(key: Bytes | null | undefined, partitions: number): number {
    if (key != null) return partitionForAnyKey(key, partitions)
    const p = this.#next % partitions
    this.#next = (this.#next + 1) & 0x7fffffff
    return p
  }
}
