/**
 * The on-disk record batch. One LMDB value holds one batch, so the per-record cost of an
 * append is a copy into this buffer, and the per-batch cost (checksum, B-tree insert) is
 * shared by all of its records.
 *
 *   batch    := header record*
 *   header   := magic:u8=2 attributes:u8 reserved:u16 crc:u32 length:u32 count:u32
 *               baseOffset:f64 maxTimestamp:f64 minTimestamp:f64
 *               producerId:u32 baseSequence:i32 appendTime:f64               (56 bytes)
 *   record   := offsetDelta:u32 timestamp:f64 keyLength:i32 key valueLength:i32 value
 *               headerCount:u16 (nameLength:u16 name valueLength:u32 value)*
 *
 * Little-endian throughout; a length of -1 means null. `crc` is CRC-32 of every byte except
 * the crc field itself, so any flipped bit in the header, lengths, offsets or payload is
 * caught on read.
 * Offsets are stored as deltas so compaction can drop records and keep the survivors' offsets.
 * `appendTime` is when the log stored the batch (ms since the epoch); records' timestamps are
 * their producers' (often event time), so latency from the append needs its own field.
 * Batches of format 1 (48 bytes, no appendTime) are still read: their appendTime is taken to
 * be their maxTimestamp.
 *
 * Attribute bit 0 (ASCII) says every key and value of the batch is ASCII, as JSON text
 * usually is. A reader that decodes the whole batch then turns it into text 64 KiB at a time
 * (Latin-1: a char per byte, so byte offsets are char offsets) and hands each value out as a
 * substring of it (`LogRecord.valueText`): a string per 64 KiB instead of one per value, which
 * is what `JSON.parse` needs anyway. Keys are not (only short ones): a key is kept (state is
 * keyed by it), and a kept substring keeps the 64 KiB of text it was cut from alive (V8 slices
 * strings of 13 chars or more).
 */
import { isAscii } from 'node:buffer'
import { SluiceError } from '../../errors.ts'
import { type Bytes, byteLengthOf, latin1At, writeBytesAt } from '../bytes.ts'
import type { Headers, LogRecord, ProducerRecord } from '../types.ts'
import { crc32 } from './crc32.ts'

export const BATCH_MAGIC = 2
export const HEADER_BYTES = 56
/**
 * Records' bytes per batch that appends aim at (a record bigger than this gets a batch of its
 * own): big enough that the per-batch costs (header, checksum, B-tree insert) vanish, small
 * enough that a reader's batch cache and a commit's buffers stay small.
 */
export const MAX_BATCH_BYTES = 1024 * 1024
/** The format before appendTime: read, never written. */
const V1_MAGIC = 1
const V1_HEADER_BYTES = 48
/**
 * Keys shorter than this are handed out as text too: V8 copies a substring this short instead
 * of slicing it (SlicedString::kMinLength), so a key kept in state does not keep the batch's
 * text alive. Longer keys are decoded from their bytes by whoever needs them.
 */
const SHORT_KEY = 13
/**
 * The batch's text is made this many bytes at a time. One string for a whole 1 MiB batch is
 * above Node's limit for strings in V8's heap (about 1,031,000 bytes): it becomes an external
 * string, allocated and freed with the system allocator at each batch, and cost 0.5 ms per
 * batch, more than a string per value. 64 KiB chunks are ordinary heap strings.
 */
const TEXT_CHUNK = 64 * 1024
/** Attribute bit: every key and value in the batch is ASCII (see the format above). */
export const ATTR_ASCII = 1
const RECORD_FIXED_BYTES = 4 + 8 + 4 + 4 + 2
const NO_HEADERS: Headers = Object.freeze({}) as Headers
const utf8 = new TextDecoder()

export interface BatchInfo {
  baseOffset: number
  count: number
  /** Offset delta of the last record (`count - 1` until compaction removes records). */
  lastOffsetDelta: number
  minTimestamp: number
  maxTimestamp: number
  /** When the log stored the batch (format 1: its maxTimestamp). */
  appendTime: number
  producerId: number
  baseSequence: number
  bytes: number
}

/** Bytes a record takes in a batch; also what the max-record-size limit is checked against. */
export function recordSize(record: ProducerRecord): number {
  let size = RECORD_FIXED_BYTES + byteLengthOf(record.key) + byteLengthOf(record.value)
  const headers = record.headers
  if (headers) {
    for (const name in headers) size += 6 + Buffer.byteLength(name) + Buffer.byteLength(headers[name]!)
  }
  return size
}

/**
 * Encodes records with consecutive offsets from `baseOffset`. `sizes[i]` must be
 * `recordSize(records[i])` (the caller has computed it already to check limits). `now` is the
 * batch's append time, and the timestamp of records that come without one.
 */
export function encodeBatch(
  records: readonly ProducerRecord[],
  sizes: ArrayLike<number>,
  baseOffset: number,
  now: number,
  producerId = 0,
  baseSequence = -1,
  offsetDeltas?: ArrayLike<number>,
  /** Encode into this buffer (it must hold the batch) instead of allocating one. */
  into?: Buffer,
): Buffer {
  let total = HEADER_BYTES
  for (let i = 0; i < records.length; i++) total += sizes[i]!
  const builder = new BatchBuilder(into ? into.subarray(0, total) : Buffer.allocUnsafe(total), now)
  for (let i = 0; i < records.length; i++) builder.add(records[i]!, offsetDeltas ? offsetDeltas[i]! : i)
  return builder.seal(baseOffset, producerId, baseSequence)
}

/**
 * Writes records one by one into a buffer, learning each one's size as it writes it: there
 * is no pass over the records before (a string's UTF-8 length is a scan of the string, as
 * long as the copy itself). A record goes in only if it surely fits: the bound is three bytes
 * per char of a string, and the exact length is computed only for a record near the end of
 * the space. `seal` then writes the header; the offsets are given only then, so a caller can
 * encode first and take offsets later (after waiting for room in the log).
 */
export class BatchBuilder {
  readonly buffer: Buffer
  readonly #view: DataView
  readonly #now: number
  /** Where the batch may end: the buffer's end, or the header plus `maxBytes` of records. */
  readonly #limit: number
  #pos = HEADER_BYTES
  #count = 0
  #minTs = Number.POSITIVE_INFINITY
  #maxTs = Number.NEGATIVE_INFINITY
  #ascii = true

  /** `maxBytes`: most bytes of records the batch may hold (the first record goes in anyway if the buffer holds it). */
  constructor(buffer: Buffer, now: number, maxBytes = Number.POSITIVE_INFINITY) {
    this.buffer = buffer
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    this.#now = now
    this.#limit = Math.min(buffer.length, HEADER_BYTES + maxBytes)
  }

  get count(): number {
    return this.#count
  }

  /** Bytes written so far, header included. */
  get length(): number {
    return this.#pos
  }

  /**
   * Writes `record` and returns its size in bytes, or -1 when it does not fit (nothing is
   * written). A record that is the batch's first fits if the buffer holds it.
   */
  add(record: ProducerRecord, offsetDelta = this.#count): number {
    const key = record.key ?? null
    const value = record.value
    const headers = record.headers
    let pos = this.#pos
    const room = (this.#count === 0 ? this.buffer.length : this.#limit) - pos
    if (
      (headers !== undefined || RECORD_FIXED_BYTES + bound(key) + bound(value) > room) &&
      recordSize(record) > room
    ) {
      return -1
    }
    const buf = this.buffer
    const view = this.#view
    const ts = record.timestamp ?? this.#now
    if (ts < this.#minTs) this.#minTs = ts
    if (ts > this.#maxTs) this.#maxTs = ts
    const start = pos
    view.setUint32(pos, offsetDelta, true)
    view.setFloat64(pos + 4, ts, true)
    pos += 12
    const keyAt = pos + 4
    pos = writeBytes(buf, view, pos, key)
    let ascii = this.#ascii
    // A string is ASCII when its UTF-8 takes one byte per char (any other char takes more).
    if (ascii && key !== null) ascii = typeof key === 'string' ? pos - keyAt === key.length : isAscii(key)
    const valueAt = pos + 4
    pos = writeBytes(buf, view, pos, value)
    if (ascii && value !== null)
      ascii = typeof value === 'string' ? pos - valueAt === value.length : isAscii(value)
    this.#ascii = ascii
    if (headers === undefined) {
      view.setUint16(pos, 0, true)
      pos += 2
    } else {
      const countAt = pos
      let n = 0
      pos += 2
      for (const name in headers) {
        const nameLength = buf.write(name, pos + 2, 'utf8')
        view.setUint16(pos, nameLength, true)
        pos += 2 + nameLength
        const valueLength = buf.write(headers[name]!, pos + 4, 'utf8')
        view.setUint32(pos, valueLength, true)
        pos += 4 + valueLength
        n++
      }
      view.setUint16(countAt, n, true)
    }
    this.#pos = pos
    this.#count++
    return pos - start
  }

  /** Writes the header (with the checksum) and returns the batch: a view of the buffer. */
  seal(baseOffset: number, producerId = 0, baseSequence = -1): Buffer {
    const buf = this.buffer.subarray(0, this.#pos)
    writeHeader(
      buf,
      this.#view,
      this.#ascii,
      this.#count,
      baseOffset,
      this.#minTs,
      this.#maxTs,
      this.#now,
      producerId,
      baseSequence,
    )
    return buf
  }
}

/**
 * A batch whose records were written in place by a FrameWriter (frames.ts): bytes `start`..`end`
 * of `buffer`, with the header's room first. `seal` writes the header as BatchBuilder's does.
 */
export class FramedBatch {
  /**
   * What goes back to the log's pool once the batch is stored: the frames' buffer, carried by
   * its last batch only (it holds the others too); nothing for the rest.
   */
  readonly buffer: Buffer
  readonly #frames: Buffer
  readonly #start: number
  readonly #end: number
  readonly count: number
  readonly #ascii: boolean
  readonly #minTs: number
  readonly #maxTs: number
  readonly #now: number

  constructor(
    frames: Buffer,
    start: number,
    end: number,
    count: number,
    ascii: boolean,
    minTs: number,
    maxTs: number,
    now: number,
    own: Buffer | null = null,
  ) {
    this.buffer = own ?? EMPTY
    this.#frames = frames
    this.#start = start
    this.#end = end
    this.count = count
    this.#ascii = ascii
    this.#minTs = minTs
    this.#maxTs = maxTs
    this.#now = now
  }

  get length(): number {
    return this.#end - this.#start
  }

  seal(baseOffset: number, producerId = 0, baseSequence = -1): Buffer {
    const buf = this.#frames.subarray(this.#start, this.#end)
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    writeHeader(
      buf,
      view,
      this.#ascii,
      this.count,
      baseOffset,
      this.#minTs,
      this.#maxTs,
      this.#now,
      producerId,
      baseSequence,
    )
    return buf
  }
}

const EMPTY = Buffer.alloc(0)

/**
 * Walks the records of a framed run (`start` is its header's room), checking each against the
 * topic's limits as the log's encode does, and returns its timestamps' range. Throws the error
 * `fail` makes for a record (its index among the frames) that is too big or lacks a key.
 */
export function scanFrames(
  buf: Buffer,
  start: number,
  end: number,
  maxRecordBytes: number,
  needKeys: boolean,
  fail: (index: number, size: number, why: 'size' | 'key') => Error,
  firstIndex: number,
): { minTs: number; maxTs: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let minTs = Number.POSITIVE_INFINITY
  let maxTs = Number.NEGATIVE_INFINITY
  let pos = start + HEADER_BYTES
  for (let i = firstIndex; pos < end; i++) {
    const ts = view.getFloat64(pos + 4, true)
    if (ts < minTs) minTs = ts
    if (ts > maxTs) maxTs = ts
    if (needKeys && view.getInt32(pos + 12, true) < 0) throw fail(i, 0, 'key')
    const next = skipRecord(view, pos)
    if (next - pos > maxRecordBytes) throw fail(i, next - pos, 'size')
    pos = next
  }
  return { minTs, maxTs }
}

function writeHeader(
  buf: Buffer,
  view: DataView,
  ascii: boolean,
  count: number,
  baseOffset: number,
  minTs: number,
  maxTs: number,
  now: number,
  producerId: number,
  baseSequence: number,
): void {
  buf[0] = BATCH_MAGIC
  buf[1] = ascii ? ATTR_ASCII : 0
  view.setUint16(2, 0, true)
  view.setUint32(8, buf.length, true)
  view.setUint32(12, count, true)
  view.setFloat64(16, baseOffset, true)
  view.setFloat64(24, count ? maxTs : now, true)
  view.setFloat64(32, count ? minTs : now, true)
  view.setUint32(40, producerId, true)
  view.setInt32(44, baseSequence, true)
  view.setFloat64(48, now, true)
  view.setUint32(4, checksum(buf), true)
}

/** At most how many bytes `bytes` takes: UTF-8 needs up to 3 bytes per UTF-16 char. */
function bound(bytes: Bytes | null | undefined): number {
  if (bytes === null || bytes === undefined) return 0
  return typeof bytes === 'string' ? bytes.length * 3 : bytes.length
}

function writeBytes(buf: Buffer, view: DataView, pos: number, bytes: Bytes | null): number {
  if (bytes === null) {
    view.setInt32(pos, -1, true)
    return pos + 4
  }
  const n = writeBytesAt(buf, pos + 4, bytes)
  view.setInt32(pos, n, true)
  return pos + 4 + n
}

/** Where a batch came from, for error messages that name the damaged place. */
export interface BatchOrigin {
  topic: string
  partition: number
}

function corrupt(origin: BatchOrigin, baseOffset: number, why: string): SluiceError {
  return new SluiceError(
    'SLUICE_CORRUPT_BATCH',
    `corrupt record batch in topic "${origin.topic}" partition ${origin.partition} at offset ${baseOffset}: ${why}. ` +
      'The stored bytes were damaged on disk; restore the data directory from a backup or delete the topic.',
  )
}

/** The verified header of a stored batch: where its records start, and its fields. */
interface CheckedHeader {
  view: DataView
  /** Where the first record starts (the header's size for the batch's format). */
  records: number
  baseOffset: number
  count: number
  appendTime: number
}

/** Verifies a stored batch's format, length, checksum and base offset; damaged bytes throw. */
function checkHeader(buf: Uint8Array, origin: BatchOrigin, expectedBaseOffset: number): CheckedHeader {
  const magic = buf[0]
  const headerBytes = magic === BATCH_MAGIC ? HEADER_BYTES : magic === V1_MAGIC ? V1_HEADER_BYTES : -1
  if (buf.length < Math.max(headerBytes, V1_HEADER_BYTES))
    throw corrupt(origin, expectedBaseOffset, `only ${buf.length} bytes stored`)
  if (headerBytes < 0) throw corrupt(origin, expectedBaseOffset, `unknown batch format ${magic}`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const length = view.getUint32(8, true)
  if (length !== buf.length)
    throw corrupt(origin, expectedBaseOffset, `length field ${length} ≠ stored ${buf.length}`)
  const stored = view.getUint32(4, true)
  const actual = checksum(buf)
  if (stored !== actual)
    throw corrupt(origin, expectedBaseOffset, `checksum ${hex(actual)} ≠ stored ${hex(stored)}`)
  const baseOffset = view.getFloat64(16, true)
  if (baseOffset !== expectedBaseOffset)
    throw corrupt(origin, expectedBaseOffset, `batch says base offset ${baseOffset}`)
  return {
    view,
    records: headerBytes,
    baseOffset,
    count: view.getUint32(12, true),
    appendTime: view.getFloat64(magic === V1_MAGIC ? 24 : 48, true),
  }
}

/** Verifies the checksum and header of a stored batch and returns its summary. */
export function readBatchInfo(buf: Uint8Array, origin: BatchOrigin, expectedBaseOffset: number): BatchInfo {
  const { view, records, baseOffset, count, appendTime } = checkHeader(buf, origin, expectedBaseOffset)
  let lastOffsetDelta = 0
  if (count > 0) {
    // Walk to the last record: the records are variable-length.
    let pos = records
    for (let i = 0; i < count; i++) {
      if (i === count - 1) lastOffsetDelta = view.getUint32(pos, true)
      pos = skipRecord(view, pos)
    }
  }
  return {
    baseOffset,
    count,
    lastOffsetDelta,
    maxTimestamp: view.getFloat64(24, true),
    minTimestamp: view.getFloat64(32, true),
    appendTime,
    producerId: view.getUint32(40, true),
    baseSequence: view.getInt32(44, true),
    bytes: buf.length,
  }
}

function skipRecord(view: DataView, pos: number): number {
  pos += 12
  const keyLength = view.getInt32(pos, true)
  pos += 4 + Math.max(keyLength, 0)
  const valueLength = view.getInt32(pos, true)
  pos += 4 + Math.max(valueLength, 0)
  const headerCount = view.getUint16(pos, true)
  pos += 2
  for (let h = 0; h < headerCount; h++) {
    pos += 2 + view.getUint16(pos, true)
    pos += 4 + view.getUint32(pos, true)
  }
  return pos
}

/**
 * Decodes the records of a batch whose offset is at least `fromOffset`, pushing them to
 * `out`. Verifies the checksum first: damaged bytes raise an error, never wrong data.
 * Keys and values are views into `buf`; callers must pass a buffer they own.
 */
export function decodeBatch(
  buf: Buffer,
  origin: BatchOrigin,
  expectedBaseOffset: number,
  fromOffset: number,
  out: LogRecord[],
  maxRecords: number,
  /**
   * Also hand values out as text when the batch is all ASCII (`valueText`).
   * For callers that decode whole batches: the text is made 64 KiB at a time as they go.
   */
  text = false,
  /**
   * With `text`: records are `BatchRecord`s, whose key and value views are made only when
   * read. For the engine's runner, which parses the text (or decodes the value where it lies)
   * and rarely needs the bytes (`EmbeddedLog.readQueued`).
   */
  lazyBytes = false,
): void {
  const { view, records, baseOffset, count, appendTime } = checkHeader(buf, origin, expectedBaseOffset)
  const topic = origin.topic
  const partition = origin.partition
  // Latin-1: one char per byte, so a record's byte range is its char range too.
  const ascii = text && (buf[1]! & ATTR_ASCII) !== 0
  const lazy = text && lazyBytes
  // The batch's text, a chunk at a time (see TEXT_CHUNK): `chunk` holds bytes from `chunkAt`.
  let chunk = ''
  let chunkAt = 0
  let pos = records
  for (let i = 0; i < count && out.length < maxRecords; i++) {
    const offset = baseOffset + view.getUint32(pos, true)
    if (offset < fromOffset) {
      pos = skipRecord(view, pos)
      continue
    }
    const timestamp = view.getFloat64(pos + 4, true)
    pos += 12
    let key: Uint8Array | null = null
    let keyText: string | undefined
    const keyLength = view.getInt32(pos, true)
    pos += 4
    const keyAt = pos
    if (keyLength >= 0) {
      if (!lazy) key = buf.subarray(pos, pos + keyLength)
      if (ascii && keyLength < SHORT_KEY) {
        if (pos + keyLength > chunkAt + chunk.length) {
          chunkAt = pos
          chunk = latin1At(buf, pos, Math.min(buf.length, pos + Math.max(TEXT_CHUNK, keyLength)))
        }
        keyText = chunk.substring(pos - chunkAt, pos - chunkAt + keyLength)
      }
      pos += keyLength
    }
    let value: Uint8Array | null = null
    let valueText: string | undefined
    const valueLength = view.getInt32(pos, true)
    pos += 4
    const valueAt = pos
    if (valueLength >= 0) {
      if (!lazy) value = buf.subarray(pos, pos + valueLength)
      if (ascii) {
        if (pos + valueLength > chunkAt + chunk.length) {
          chunkAt = pos
          chunk = latin1At(buf, pos, Math.min(buf.length, pos + Math.max(TEXT_CHUNK, valueLength)))
        }
        valueText = chunk.substring(pos - chunkAt, pos - chunkAt + valueLength)
      }
      pos += valueLength
    }
    const headerCount = view.getUint16(pos, true)
    pos += 2
    let headers = NO_HEADERS
    if (headerCount > 0) {
      headers = {}
      for (let h = 0; h < headerCount; h++) {
        const nameLength = view.getUint16(pos, true)
        const name = utf8.decode(buf.subarray(pos + 2, pos + 2 + nameLength))
        pos += 2 + nameLength
        const valueLength = view.getUint32(pos, true)
        headers[name] = utf8.decode(buf.subarray(pos + 4, pos + 4 + valueLength))
        pos += 4 + valueLength
      }
    }
    if (lazy) {
      out.push(
        new BatchRecord(
          topic,
          partition,
          offset,
          timestamp,
          appendTime,
          headers,
          keyText,
          valueText,
          buf,
          keyAt,
          keyLength,
          valueAt,
          valueLength,
        ),
      )
    } else
      out.push({ topic, partition, offset, timestamp, appendTime, key, value, headers, keyText, valueText })
  }
}

/**
 * A record as the engine's runner reads it (`EmbeddedLog.readQueued`): where its key and value
 * lie in the batch, with a view of either made only when `key` or `value` is read (each read
 * makes one). The runner parses an ASCII batch's text (`valueText`) or decodes a binary value
 * where it lies (`Codec.decodeAt` over `batch`, `valueAt`, `valueLength`), and needs the
 * bytes only for a record it dead-letters: two views per record were 8% of a stateless
 * pipeline's thread. `key` and `value` are accessors on the class, not own properties: a
 * spread or `structuredClone` of such a record drops them, which is why only `readQueued`,
 * whose one caller is the runner, hands these out.
 */
export class BatchRecord implements LogRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly appendTime: number
  readonly headers: Headers
  readonly keyText: string | undefined
  readonly valueText: string | undefined
  /** The whole batch the record is in; its key and value are ranges of it (a length of -1: null). */
  readonly batch: Buffer
  readonly keyAt: number
  readonly keyLength: number
  readonly valueAt: number
  readonly valueLength: number

  constructor(
    topic: string,
    partition: number,
    offset: number,
    timestamp: number,
    appendTime: number,
    headers: Headers,
    keyText: string | undefined,
    valueText: string | undefined,
    batch: Buffer,
    keyAt: number,
    keyLength: number,
    valueAt: number,
    valueLength: number,
  ) {
    this.topic = topic
    this.partition = partition
    this.offset = offset
    this.timestamp = timestamp
    this.appendTime = appendTime
    this.headers = headers
    this.keyText = keyText
    this.valueText = valueText
    this.batch = batch
    this.keyAt = keyAt
    this.keyLength = keyLength
    this.valueAt = valueAt
    this.valueLength = valueLength
  }

  get key(): Uint8Array | null {
    return this.keyLength < 0 ? null : this.batch.subarray(this.keyAt, this.keyAt + this.keyLength)
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0 ? null : this.batch.subarray(this.valueAt, this.valueAt + this.valueLength)
  }
}

/** CRC-32 of every byte except the crc field itself (bytes 4..7). */
function checksum(buf: Uint8Array): number {
  return crc32(buf.subarray(8), crc32(buf.subarray(0, 4)))
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`
}
