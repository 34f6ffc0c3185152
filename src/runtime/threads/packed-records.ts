/**
 * Output records cross from a worker to the main thread packed into two transferable
 * buffers, not as objects: structured cloning a Buffer copies its whole backing ArrayBuffer
 * (for a small Buffer that is Node's 8 KiB pool slab), and cloning many small objects is
 * slow. Transferring moves the memory without a copy.
 *
 *   bytes    ArrayBuffer: the key and value bytes of every record, back to back
 *   meta     Float64Array, 4 numbers per record:
 *              keyLength     (-1: null key)
 *              valueLength   (-1: null value, a tombstone or a watermark marker)
 *              timestamp     (NaN: none, the log stamps the append time)
 *              partition     (-1: none, the log's partitioner chooses)
 *   headers  [record index, headers] for the few records that have any (watermark markers,
 *            dead letters)
 *
 * Records keep their order. The reader cuts them into runs by count; which task and topic a
 * run belongs to travels beside the pack (protocol.ts).
 */
import { byteLengthOf, writeBytesAt } from '../../log/bytes.ts'
import type { Headers, ProducerRecord } from '../../log/types.ts'

export interface PackedRecords {
  bytes: ArrayBuffer
  meta: Float64Array
  headers: Array<[number, Headers]>
}

const FIELDS = 4

/** Packs record lists in the order given. */
export function packRecords(lists: Iterable<readonly ProducerRecord[]>): PackedRecords {
  let count = 0
  let size = 0
  const all: Array<readonly ProducerRecord[]> = []
  for (const list of lists) {
    all.push(list)
    count += list.length
    for (const r of list) size += byteLengthOf(r.key) + byteLengthOf(r.value)
  }
  const bytes = new ArrayBuffer(size)
  const view = Buffer.from(bytes)
  const meta = new Float64Array(count * FIELDS)
  const headers: Array<[number, Headers]> = []
  let pos = 0
  let i = 0
  for (const list of all) {
    for (const r of list) {
      const m = i * FIELDS
      const key = r.key ?? null
      if (key === null) meta[m] = -1
      else {
        const n = writeBytesAt(view, pos, key)
        pos += n
        meta[m] = n
      }
      if (r.value === null) meta[m + 1] = -1
      else {
        const n = writeBytesAt(view, pos, r.value)
        pos += n
        meta[m + 1] = n
      }
      meta[m + 2] = r.timestamp ?? Number.NaN
      meta[m + 3] = r.partition ?? -1
      if (r.headers !== undefined) headers.push([i, r.headers])
      i++
    }
  }
  return { bytes, meta, headers }
}

/** The objects to transfer with a pack (after which the sender must not touch them). */
export function transferList(packed: PackedRecords): ArrayBuffer[] {
  return [packed.bytes, packed.meta.buffer as ArrayBuffer]
}

/**
 * Reads a pack back in runs: each `next(n)` returns the next `n` records. Keys and values are
 * views into the pack's buffer, not copies (the log copies them into its batches).
 */
export class RecordUnpacker {
  readonly #packed: PackedRecords
  #index = 0
  #pos = 0
  #header = 0

  constructor(packed: PackedRecords) {
    this.#packed = packed
  }

  next(n: number): ProducerRecord[] {
    const { bytes, meta, headers } = this.#packed
    const out: ProducerRecord[] = new Array(n)
    for (let j = 0; j < n; j++) {
      const i = this.#index++
      const m = i * FIELDS
      const keyLength = meta[m]!
      const valueLength = meta[m + 1]!
      let key: Uint8Array | null = null
      if (keyLength >= 0) {
        key = new Uint8Array(bytes, this.#pos, keyLength)
        this.#pos += keyLength
      }
      let value: Uint8Array | null = null
      if (valueLength >= 0) {
        value = new Uint8Array(bytes, this.#pos, valueLength)
        this.#pos += valueLength
      }
      const record: ProducerRecord = { key, value }
      const timestamp = meta[m + 2]!
      if (!Number.isNaN(timestamp)) record.timestamp = timestamp
      const partition = meta[m + 3]!
      if (partition >= 0) record.partition = partition
      const h = headers[this.#header]
      if (h !== undefined && h[0] === i) {
        record.headers = h[1]
        this.#header++
      }
      out[j] = record
    }
    return out
  }
}
