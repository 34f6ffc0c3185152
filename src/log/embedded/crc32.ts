/**
 * CRC-32 (the IEEE polynomial, as zlib's) of record batches. `@node-rs/crc32` computes the same
 * value about three times as fast as `node:zlib`'s on a 1 MiB batch (9 vs 3 GB/s measured, with
 * carry-less multiplication), and every byte the log appends or reads is checksummed once:
 * on a pass-through pipeline that was a sixth of the main thread. It is a native addon with
 * prebuilt binaries (the Kafka client depends on it too); where none loads, `node:zlib`'s gives
 * the same checksums, so the stored format does not depend on which one ran.
 */
import { createRequire } from 'node:module'
import { crc32 as zlibCrc32 } from 'node:zlib'

type Crc32 = (data: Uint8Array, initial?: number) => number

function load(): Crc32 {
  try {
    const native = createRequire(import.meta.url)('@node-rs/crc32') as { crc32: Crc32 }
    return native.crc32
  } catch {
    return zlibCrc32
  }
}

export const crc32: Crc32 = load()

/** Which implementation `crc32` is (for tests and diagnostics). */
export const crc32Implementation: 'native' | 'zlib' = crc32 === zlibCrc32 ? 'zlib' : 'native'
