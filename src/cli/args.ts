/**
 * Flag parsing shared by every command: node:util `parseArgs` in strict mode plus the flags
 * every command takes (`--help`, `--data-dir`), and number/time parsers whose errors say
 * which flag was wrong. A bad command line throws `UsageError` (exit code 2).
 */
import { resolve } from 'node:path'
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import type { Durability } from '../log/index.ts'

/** A mistake in the command line: printed with a pointer to the command's `--help`. */
export class UsageError extends Error {
  /** The command whose help to point at, e.g. `topics create`; empty for `sluice` itself. */
  readonly command: string

  constructor(command: string, message: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'data-dir': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig

export const DATA_DIR_HELP = `  --data-dir <dir>  where the log lives (default: $SLUICE_DATA_DIR or ./.sluice)
  -h, --help        show this help`

/**
 * Parses a command's arguments. Every command also gets `--help`/`-h` and `--data-dir`.
 * parseArgs errors (unknown flag, missing value) become a `UsageError` for `command`.
 */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
) {
  try {
    return parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      strict: true,
      allowPositionals: true,
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(command, parseArgsMessage(error as Error))
    }
    throw error
  }
}

/**
 * parseArgs's messages run over several lines of advice that rarely applies (about `--` and
 * `--flag=-x`); keep one line that names the flag.
 */
function parseArgsMessage(error: Error): string {
  const missing = /^Option '(-\w, )?(--[\w-]+)[^']*' argument (missing|is ambiguous)/.exec(error.message)
  if (missing) return `${missing[2]} needs a value`
  const message = error.message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '')
  return message.charAt(0).toLowerCase() + message.slice(1)
}

/** The data directory a command works on: `--data-dir`, else `$SLUICE_DATA_DIR`, else `./.sluice`. */
export function dataDirOf(values: { 'data-dir'?: string | undefined }): string {
  // An empty SLUICE_DATA_DIR counts as unset, not as the current directory.
  return resolve(values['data-dir'] ?? (process.env.SLUICE_DATA_DIR || '.sluice'))
}

/** Checks the number of positional arguments and returns them. */
export function expectPositionals(
  command: string,
  positionals: string[],
  names: readonly string[],
): string[] {
  if (positionals.length < names.length) {
    const missing = names.slice(positionals.length).map((n) => `<${n}>`)
    throw new UsageError(command, `missing ${missing.join(' ')}`)
  }
  if (positionals.length > names.length) {
    throw new UsageError(command, `unexpected argument "${positionals[names.length]}"`)
  }
  return positionals
}

/** A whole number flag: digits only (no `1e3`, no `0x10`), at least `min`. */
export function parseIntFlag(command: string, flag: string, value: string, min = 0): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(
      command,
      `--${flag} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, got "${value}"`,
    )
  }
  return n
}

/** A point in time: an ISO 8601 date/time (`2025-01-31T12:00:00Z`) or milliseconds since the epoch. */
export function parseTimeFlag(command: string, flag: string, value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      command,
      `--${flag} must be an ISO 8601 time such as 2025-01-31T12:00:00Z (or ms since the epoch), got "${value}"`,
    )
  }
  return ms
}

/** Runs a parser from `util/` (which throws `SluiceError`) and reports its failure as a usage error. */
export function parseWith<T>(command: string, flag: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw new UsageError(command, `--${flag}: ${(error as Error).message}`)
  }
}

/** `--durability sync|interval`. */
export function parseDurabilityFlag(command: string, value: string | undefined): Durability | undefined {
  if (value === undefined || value === 'sync' || value === 'interval') return value
  throw new UsageError(command, `--durability must be sync or interval, got "${value}"`)
}
