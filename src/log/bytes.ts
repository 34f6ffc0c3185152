/**
 * A record's key or value as a producer may give it: bytes, or a string that the log writes
 * as its UTF-8 bytes. Strings exist for speed as much as for convenience: the engine's JSON
 * outputs go from `JSON.stringify` straight into the log's batch buffer, with no Buffer per
 * record in between (one allocation and one copy fewer per key and per value).
 */
export type Bytes = Uint8Array | string

/** How many bytes `bytes` takes in a record (0 for none). */
export function byteLengthOf(bytes: Bytes | null | undefined): number {
  if (bytes === null || bytes === undefined) return 0
  return typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length
}

/** The bytes themselves: a string's UTF-8 encoding, or the bytes given (not copied). */
export function toBytes(bytes: Bytes): Uint8Array {
  return typeof bytes === 'string' ? Buffer.from(bytes) : bytes
}

// Buffer's own UTF-8 writer: `write(string, offset, 'utf8')` parses its arguments first, which
// costs more than the copy for the short strings records hold. Present in every Node release.
interface Utf8Writer {
  utf8Write(text: string, offset: number): number
}

/** Writes `bytes` into `buf` at `offset` and returns how many bytes it wrote. */
export function writeBytesAt(buf: Buffer, offset: number, bytes: Bytes): number {
  if (typeof bytes === 'string') return (buf as unknown as Utf8Writer).utf8Write(bytes, offset)
  buf.set(bytes, offset)
  return bytes.length
}

// Buffer's own Latin-1 reader, without `toString`'s argument handling (present in every Node release).
interface Latin1Reader {
  latin1Slice(start: number, end: number): string
}

/** Bytes `start`..`end` of `buf` as Latin-1 text: one char per byte (ASCII text reads as itself). */
export function latin1At(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Reader).latin1Slice(start, end)
}
