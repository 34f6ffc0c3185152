/**
 * The byte streams binary codecs write to and read from. Both are classes with fixed fields,
 * so the generated encoders and decoders (compile.ts) see one shape and V8 keeps their
 * property accesses inline.
 */
import { SluiceError } from '../../errors.ts'

// Buffer's own UTF-8 and Latin-1 methods, without `write`'s and `toString`'s argument
// handling (present in every Node release).
interface RawBuffer {
  utf8Write(text: string, offset: number, length: number): number
  utf8Slice(start: number, end: number): string
  latin1Slice(start: number, end: number): string
}

/**
 * Strings up to this many chars are written by a loop here, longer ones by Buffer's native
 * code: the loop took 10 ns for 6 chars against the call's 20, and 57 against 22 for 48
 * (about 1.3 ns a char against 20-30 flat): 17.5 against 31.6 for 12 chars, 23.4 against
 * 21.3 for 16.
 */
const SHORT_STRING = 14

/**
 * ASCII strings up to this many bytes are read by one `String.fromCharCode` call with a byte
 * per argument (`shortAscii`), longer ones by Buffer's native `utf8Slice`: with the check that
 * the bytes are ASCII, 18 ns against 56 for 6 chars, 29 against 56 for 12, 45 against 56 for
 * 20 (they cross at about 26). A loop that adds a char at a time took 39 and 86. The string
 * made is a flat one, as the native call's is: Buffer's fast write takes it as it is.
 */
const SHORT_READ = 20

/** `String.fromCharCode(b[a], …, b[a + n - 1])` for n up to SHORT_READ: a call with n arguments. */
const shortAscii = new Function(
  'b',
  'a',
  'n',
  `switch (n) {\n${Array.from(
    { length: SHORT_READ },
    (_, i) =>
      `case ${i + 1}: return String.fromCharCode(${Array.from({ length: i + 1 }, (_, k) => `b[a + ${k}]`).join(', ')});`,
  ).join('\n')}\n}`,
) as (b: Buffer, a: number, n: number) => string

/**
 * A growable buffer that encoders append to. `bytes()` is a view of what was written; `reset()`
 * starts over in the same memory, so a writer that lives as long as its task allocates only
 * when it grows.
 */
export class ByteWriter {
  buf: Buffer
  view: DataView
  pos = 0

  /** `initial`: how many bytes to start with, or the buffer to start in (its bytes are overwritten). */
  constructor(initial: number | Buffer = 64 * 1024) {
    this.buf = typeof initial === 'number' ? Buffer.allocUnsafe(initial) : initial
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.#grow(this.pos + n)
  }

  #grow(need: number): void {
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength)
  }

  /** A length or count: LEB128, 7 bits a byte. */
  varint(n: number): void {
    this.ensure(5)
    const buf = this.buf
    let pos = this.pos
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    buf[pos++] = n
    this.pos = pos
  }

  /**
   * A string: its UTF-8 length as a varint, then the bytes. The length goes first but is known
   * only after the write, so its room is reserved for the longest the string can be (3 bytes a
   * char) and a shorter length is padded with continuation bytes (a valid, if not minimal,
   * LEB128): one pass over the string, no `Buffer.byteLength` scan before it.
   */
  string(s: string): void {
    const n = s.length
    const bound = n * 3
    const prefix = bound < 0x80 ? 1 : bound < 0x4000 ? 2 : bound < 0x200000 ? 3 : 5
    this.ensure(prefix + bound)
    const buf = this.buf
    const at = this.pos + prefix
    let written = -1
    if (n <= SHORT_STRING) {
      // A loop beats the native call's overhead for short strings, as long as they are ASCII.
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[at + i] = c
      }
      if (i === n) written = n
    }
    if (written < 0) written = (buf as unknown as RawBuffer).utf8Write(s, at, bound)
    let pos = this.pos
    let len = written
    for (let i = 1; i < prefix; i++) {
      buf[pos++] = (len & 0x7f) | 0x80
      len >>>= 7
    }
    buf[pos] = len
    this.pos = at + written
  }

  /** Bytes, with their length first (a varint). */
  bytes(b: Uint8Array): void {
    this.varint(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** What was written since the last `reset`, as a view (not a copy). */
  written(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  reset(): void {
    this.pos = 0
  }
}

/** Reads a value's bytes in place, checking each read against the end of the value. */
export class ByteReader {
  buf: Buffer = Buffer.alloc(0)
  view: DataView = new DataView(this.buf.buffer, 0, 0)
  pos = 0
  end = 0

  /** Points the reader at bytes `start`..`end` of `buf`; the view is made again only for another buffer. */
  reset(buf: Buffer, start: number, end: number): void {
    if (buf !== this.buf) {
      this.buf = buf
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    }
    this.pos = start
    this.end = end
  }

  /** Throws unless `n` more bytes are there. */
  need(n: number): void {
    if (this.pos + n > this.end) throw truncated(this.end - this.pos, n)
  }

  varint(): number {
    const buf = this.buf
    let pos = this.pos
    let n = 0
    let shift = 0
    for (;;) {
      if (pos >= this.end) throw truncated(0, 1)
      const b = buf[pos++]!
      if (shift === 28) {
        // The fifth byte: the 4 bits left of 32. Added, since `<<` would overflow.
        if (b > 0x0f) throw corrupt('a length of more than 32 bits')
        n += b * 2 ** 28
        break
      }
      n |= (b & 0x7f) << shift
      if (b < 0x80) break
      shift += 7
    }
    this.pos = pos
    return n >>> 0
  }

  string(): string {
    const n = this.varint()
    this.need(n)
    const buf = this.buf
    const at = this.pos
    this.pos = at + n
    if (n === 0) return ''
    if (n <= SHORT_READ) {
      let bits = 0
      for (let i = at; i < at + n; i++) bits |= buf[i]!
      if (bits < 0x80) return shortAscii(buf, at, n)
    }
    return (buf as unknown as RawBuffer).utf8Slice(at, at + n)
  }

  bytes(): Uint8Array {
    const n = this.varint()
    this.need(n)
    const at = this.pos
    this.pos = at + n
    // A copy, and a plain Uint8Array (not a Buffer): the value must not keep the record's
    // batch (or the caller's buffer) alive.
    const out = new Uint8Array(n)
    out.set(this.buf.subarray(at, at + n))
    return out
  }
}

function truncated(left: number, need: number): SluiceError {
  return corrupt(`the value ends early (${need} more bytes needed, ${left} left)`)
}

export function corrupt(why: string): SluiceError {
  return new SluiceError(
    'SLUICE_INVALID_INPUT',
    `cannot decode a binary value: ${why}. The bytes were not written by this schema's codec ` +
      '(another schema, or another codec such as JSON): read the topic with the codec it was written with.',
  )
}
