import type { Codec } from '../codec.ts'
import { compile } from './compile.ts'
import { ByteReader, ByteWriter, corrupt } from './io.ts'
import type { Schema } from './schema.ts'

/**
 * A codec that writes values of `schema` as compact binary: numbers as 8 bytes, strings as
 * their UTF-8 after a length, no field names. On the Nexmark events it decodes in about a
 * third and encodes in under half the time of JSON (`npm run bench:codec`; the format is in
 * docs/concepts/codecs.md). A pipeline's sink writes each value straight into its task's output buffer
 * (`encodeInto`) and its source reads each one where it lies in the log's batch (`decodeAt`).
 *
 * Encoding checks every field against the schema (a value that does not fit is refused with
 * its path: `value.bid.price`), and decoding checks every read against the value's end.
 */
export function binaryCodec<T>(schema: Schema<T>): Codec<T> {
  const { encode, decode } = compile(schema.node)
  const scratch = new ByteWriter(1024)
  const reader = new ByteReader()
  const decodeAt = (buf: Buffer, start: number, end: number): T => {
    reader.reset(buf, start, end)
    const value = decode(reader) as T
    if (reader.pos !== end) throw corrupt(`${end - reader.pos} bytes left over after the value`)
    return value
  }
  return {
    encode: (value) => {
      scratch.reset()
      encode(value, scratch)
      // A copy: the scratch buffer is reused by the next call.
      return Buffer.from(scratch.written())
    },
    decode: (bytes) =>
      decodeAt(
        Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        0,
        bytes.byteLength,
      ),
    encodeInto: (value, writer) => encode(value, writer),
    decodeAt,
  }
}
