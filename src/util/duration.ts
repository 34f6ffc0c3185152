import { SluiceError } from '../errors.ts'

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** A duration as milliseconds or a string such as `'250ms'`, `'5s'`, `'10m'`, `'7d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`

/**
 * Parses a duration into milliseconds.
 * @example parseDuration('1m') // 60000
 */
export function parseDuration(value: Duration | string, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `${what} must be a non-negative number of ms, got ${value}`,
      )
    }
    return value
  }
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(value.trim())
  if (!match) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `${what} "${value}" is not a duration: use a number and a unit, e.g. 500ms, 30s, 10m, 12h, 7d`,
    )
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!)
}
