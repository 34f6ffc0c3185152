/**
 * Records written straight in the stored batch format (batch-codec.ts), as they are produced,
 * for a writer whose records all go to one partition of the embedded log: the engine's sinks.
 *
 * Why: the usual way (an array of ProducerRecords, encoded into a batch at the commit) costs
 * per record an object, a Buffer view of each binary value, five array pushes and a copy into
 * the batch; on a pass-through pipeline over binary values that was a sixth of its thread.
 * Here a record is its header (offset delta, timestamp, key, lengths) around the value, in one
 * growing buffer; the commit turns each run of up to a batch's worth of records into a batch
 * by writing the header room left at its start (count, timestamps, checksum). No copy.
 *
 * The writer (`FrameBuffer`) is the caller's growable buffer: the engine's sinks pass the
 * `ByteWriter` their binary codecs encode into, so a value is written in place, between its
 * record's header and trailer.
 */
import { isAscii } from 'node:buffer'
import type { Bytes } from '../bytes.ts'
import type { Headers } from '../types.ts'
import { HEADER_BYTES, MAX_BATCH_BYTES } from './batch-codec.ts'

/** A growable buffer: `ensure(n)` makes room for `n` bytes at `pos` (it may replace `buf` and `view`). */
export interface FrameBuffer {
  buf: Buffer
  view: DataView
  pos: number
  ensure(n: number): void
}

// Buffer's own UTF-8 writer, without `write`'s argument parsing (present in every Node release).
interface Utf8Writer {
  utf8Write(text: string, offset: number, length: number): number
}

/** One run of records: a batch once sealed. `start` is its header's room; the records follow. */
export interface FrameRun {
  readonly start: number
  readonly end: number
  readonly count: number
  /** Every key and value in it is ASCII (the batch's ATTR_ASCII). */
  readonly ascii: boolean
  /**
   * Its records' timestamp range, biggest record in bytes and null keys, as the log's checks
   * need them; null when a record was popped from it (they may be off: the log scans the run).
   */
  readonly stats: FrameStats | null
}

export interface FrameStats {
  minTs: number
  maxTs: number
  maxRecordBytes: number
  nullKeys: number
}

/** What a FrameWriter wrote: its buffer and the runs in it, each to become a batch. */
export interface RecordFrames {
  readonly buffer: Buffer
  readonly runs: readonly FrameRun[]
  /** Records in all runs. */
  readonly count: number
}

export class FrameWriter {
  readonly #out: FrameBuffer
  /** Where each record starts, for `pop`. */
  #starts: number[] = []
  #count = 0
  /** Per run: where its header's room starts, its first record, and whether all of it is ASCII. */
  #runStarts: number[] = []
  #runFirst: number[] = []
  #runAscii: boolean[] = []
  #runStats: Array<FrameStats | null> = []
  /** Where the value's length goes, for the record begun last. */
  #lengthAt = -1
  /** Whether the key of the record begun last is ASCII (or null), and whether it has one. */
  #keyAscii = true
  #keyNotNull = false

  constructor(out: FrameBuffer) {
    this.#out = out
  }

  get count(): number {
    return this.#count
  }

  /**
   * Begins a record: its offset delta, timestamp and key, and room for its value's length. The
   * caller writes the value at `pos` and then calls `end` (or `endNull` for no value).
   */
  begin(key: Bytes | null, timestamp: number): void {
    const out = this.#out
    const runs = this.#runStarts.length
    if (runs === 0 || out.pos - this.#runStarts[runs - 1]! - HEADER_BYTES >= MAX_BATCH_BYTES) this.#newRun()
    const keyBound = key === null ? 0 : typeof key === 'string' ? key.length * 3 : key.length
    out.ensure(16 + keyBound + 4)
    const view = out.view
    let pos = out.pos
    this.#starts[this.#count] = pos
    view.setUint32(pos, this.#count - this.#runFirst[this.#runFirst.length - 1]!, true)
    view.setFloat64(pos + 4, timestamp, true)
    pos += 12
    if (key === null) {
      view.setInt32(pos, -1, true)
      pos += 4
      this.#keyAscii = true
      this.#keyNotNull = false
    } else {
      this.#keyNotNull = true
      const n = this.#write(out.buf, pos + 4, key, keyBound)
      view.setInt32(pos, n, true)
      pos += 4 + n
      // A string is ASCII when its UTF-8 takes one byte per char.
      this.#keyAscii = typeof key === 'string' ? n === key.length : isAscii(key)
    }
    this.#lengthAt = pos
    out.pos = pos + 4
  }

  /**
   * Ends the record begun last: its value is what was written since `begin`. Such values are
   * not looked at, and their batch is not marked ASCII (readers then skip its text fast path).
   */
  end(headers?: Headers): void {
    this.#endValue(false, headers)
  }

  #endValue(ascii: boolean, headers: Headers | undefined): void {
    const out = this.#out
    const valueAt = this.#lengthAt + 4
    out.view.setInt32(this.#lengthAt, out.pos - valueAt, true)
    this.#trailer(headers)
    this.#ended(ascii && this.#keyAscii)
  }

  /** Ends the record begun last with a null value (nothing may have been written since `begin`). */
  endNull(headers?: Headers): void {
    const out = this.#out
    out.pos = this.#lengthAt + 4
    out.view.setInt32(this.#lengthAt, -1, true)
    this.#trailer(headers)
    this.#ended(this.#keyAscii)
  }

  /** Ends the record begun last with `value` as its value. */
  endWith(value: Bytes | null, headers?: Headers): void {
    if (value === null) {
      this.endNull(headers)
      return
    }
    const out = this.#out
    const bound = typeof value === 'string' ? value.length * 3 : value.length
    out.ensure(bound)
    const n = this.#write(out.buf, out.pos, value, bound)
    out.pos += n
    this.#endValue(typeof value === 'string' ? n === value.length : isAscii(value), headers)
  }

  /** Drops what the record begun last wrote (its value failed to encode). */
  abort(): void {
    this.#out.pos = this.#starts[this.#count]!
    this.#dropEmptyRun()
  }

  /** Drops the last record ended. */
  pop(): void {
    this.#count--
    this.#out.pos = this.#starts[this.#count]!
    // What the run's figures held of the record cannot be taken out: the log scans the run.
    this.#runStats[this.#runStats.length - 1] = null
    this.#dropEmptyRun()
  }

  /** The runs written so far. The writer is done: its buffer belongs to the frames. */
  take(): RecordFrames {
    const runs: FrameRun[] = []
    const n = this.#runStarts.length
    for (let r = 0; r < n; r++) {
      const first = this.#runFirst[r]!
      const next = r + 1 < n ? this.#runFirst[r + 1]! : this.#count
      runs.push({
        start: this.#runStarts[r]!,
        end: r + 1 < n ? this.#runStarts[r + 1]! : this.#out.pos,
        count: next - first,
        ascii: this.#runAscii[r]!,
        stats: this.#runStats[r]!,
      })
    }
    return { buffer: this.#out.buf, runs, count: this.#count }
  }

  #newRun(): void {
    const out = this.#out
    out.ensure(HEADER_BYTES)
    this.#runStarts.push(out.pos)
    this.#runFirst.push(this.#count)
    this.#runAscii.push(true)
    this.#runStats.push(emptyStats())
    out.pos += HEADER_BYTES
  }

  /** A run whose records were all dropped goes too (its header's room with it). */
  #dropEmptyRun(): void {
    const last = this.#runStarts.length - 1
    if (last >= 0 && this.#runFirst[last] === this.#count) {
      this.#out.pos = this.#runStarts[last]!
      this.#runStarts.pop()
      this.#runFirst.pop()
      this.#runAscii.pop()
      this.#runStats.pop()
    }
  }

  #trailer(headers: Headers | undefined): void {
    const out = this.#out
    if (headers === undefined) {
      out.ensure(2)
      out.view.setUint16(out.pos, 0, true)
      out.pos += 2
      return
    }
    const countAt = out.pos
    out.ensure(2)
    out.pos += 2
    let count = 0
    for (const name in headers) {
      const value = headers[name]!
      out.ensure(6 + name.length * 3 + value.length * 3)
      const nameLength = this.#write(out.buf, out.pos + 2, name, name.length * 3)
      out.view.setUint16(out.pos, nameLength, true)
      out.pos += 2 + nameLength
      const valueLength = this.#write(out.buf, out.pos + 4, value, value.length * 3)
      out.view.setUint32(out.pos, valueLength, true)
      out.pos += 4 + valueLength
      count++
    }
    out.view.setUint16(countAt, count, true)
  }

  /**
   * The record is complete. A run that has grown past a batch's size hands its last record to
   * a new run (moved up by a header's room), so a batch holds at most MAX_BATCH_BYTES of
   * records unless one record alone is bigger, as BatchBuilder's do.
   */
  #ended(ascii: boolean): void {
    const out = this.#out
    const index = this.#count++
    let run = this.#runStarts.length - 1
    const start = this.#starts[index]!
    const end = out.pos
    if (end - this.#runStarts[run]! - HEADER_BYTES > MAX_BATCH_BYTES && this.#runFirst[run] !== index) {
      out.ensure(HEADER_BYTES)
      out.buf.copyWithin(start + HEADER_BYTES, start, end)
      this.#runStarts.push(start)
      this.#runFirst.push(index)
      this.#runAscii.push(true)
      this.#runStats.push(emptyStats())
      this.#starts[index] = start + HEADER_BYTES
      out.view.setUint32(start + HEADER_BYTES, 0, true)
      out.pos = end + HEADER_BYTES
      run++
    }
    if (!ascii) this.#runAscii[run] = false
    const stats = this.#runStats[run]
    if (stats) {
      const at = this.#starts[index]!
      const ts = out.view.getFloat64(at + 4, true)
      if (ts < stats.minTs) stats.minTs = ts
      if (ts > stats.maxTs) stats.maxTs = ts
      if (out.pos - at > stats.maxRecordBytes) stats.maxRecordBytes = out.pos - at
      if (!this.#keyNotNull) stats.nullKeys++
    }
  }

  /** Writes `bytes` at `at` (room for `bound` bytes is there) and returns how many it wrote. */
  #write(buf: Buffer, at: number, bytes: Bytes, bound: number): number {
    if (typeof bytes !== 'string') {
      buf.set(bytes, at)
      return bytes.length
    }
    const n = bytes.length
    if (n <= 14) {
      // A loop beats the native call's overhead for short strings, as long as they are ASCII
      // (dsl/binary/io.ts's SHORT_STRING has the figures).
      let i = 0
      for (; i < n; i++) {
        const c = bytes.charCodeAt(i)
        if (c >= 0x80) break
        buf[at + i] = c
      }
      if (i === n) return n
    }
    return (buf as unknown as Utf8Writer).utf8Write(bytes, at, bound)
  }
}

function emptyStats(): FrameStats {
  return { minTs: Number.POSITIVE_INFINITY, maxTs: Number.NEGATIVE_INFINITY, maxRecordBytes: 0, nullKeys: 0 }
}
