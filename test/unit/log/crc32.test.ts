/**
 * The batch checksum comes from a native addon where one loads and from node:zlib otherwise.
 * Stored batches must verify whichever computed them, so both must give the same CRC-32 for
 * any bytes, any offset into a buffer and any running value; and on the platform CI runs on,
 * the fast one must be the one in use (else a broken install would silently cost a sixth of
 * a pass-through pipeline's time).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { crc32, crc32Implementation } from '../../../src/log/embedded/crc32.ts'

test('crc32 gives zlib’s CRC-32 for any length, view offset and running value', () => {
  const backing = randomBytes(300_000)
  for (let i = 0; i < 400; i++) {
    const start = (i * 7919) % 1000
    const length = i < 100 ? i : (i * 104_729) % 250_000
    const view = backing.subarray(start, start + length)
    assert.equal(crc32(view), zlibCrc32(view), `length ${length} at ${start}`)
    const running = (i * 2_654_435_761) >>> 0
    assert.equal(crc32(view, running), zlibCrc32(view, running), `length ${length} from ${running}`)
  }
  // Chained over pieces, as the batch checksum skips its own field.
  const whole = backing.subarray(0, 70_000)
  assert.equal(
    crc32(whole.subarray(8), crc32(whole.subarray(0, 4))),
    zlibCrc32(whole.subarray(8), zlibCrc32(whole.subarray(0, 4))),
  )
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value')
})

test('the native CRC-32 is the one in use on linux x64', {
  skip: !(process.platform === 'linux' && process.arch === 'x64'),
}, () => {
  assert.equal(crc32Implementation, 'native')
})
