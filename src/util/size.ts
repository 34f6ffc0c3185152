import { SluiceError } from '../errors.ts'

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
}

/**
 * Parses a byte size such as `'1MiB'`, `'512kb'` or `4096` into bytes.
 * @example parseSize('1MiB') // 1048576
 */
export function parseSize(value: number | string, what = 'size'): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `${what} must be a non-negative integer of bytes, got ${value}`,
      )
    }
    return value
  }
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(value.trim())
  if (!match) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `${what} "${value}" is not a size: use bytes or a unit, e.g. 4096, 512KiB, 1MiB, 2GB`,
    )
  }
  return Math.round(Number(match[1]) * UNIT_BYTES[(match[2] ?? 'b').toLowerCase()]!)
}
