/** What the file sources share: reading options, their defaults, and the checkpoint format. */
import { SluiceError } from '../../errors.ts'
import type { FilePosition } from './tail.ts'

export interface FileReadOptions {
  /** The file to read. */
  path: string
  /**
   * Keep reading what is appended after the end, like `tail -F`: also after the file is rotated
   * (renamed and recreated: the old file is read to its end first) or truncated. Default false:
   * read to the end once, then the connector is done.
   */
  follow?: boolean
  /** How often a followed file is checked for more data, ms (default 250). */
  pollMs?: number
  /** Most records per append (default 1,000). */
  batchSize?: number
  /** A longer line (CSV: record) is dead-lettered and skipped to the next newline (default 1 MiB). */
  maxLineBytes?: number
}

export const fileDefaults = { pollMs: 250, batchSize: 1_000, maxLineBytes: 1024 * 1024 }

export function checkFileOptions(type: string, options: FileReadOptions): void {
  if (typeof options.path !== 'string' || options.path === '') {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `${type}: give the file to read as { path: '...' }`)
  }
  for (const key of ['pollMs', 'batchSize', 'maxLineBytes'] as const) {
    const v = options[key]
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `${type}: ${key} must be a positive integer, got ${v}`)
    }
  }
}

/** Stored with each batch: the position after it, plus what a format must remember (a CSV header). */
export interface FileCheckpoint extends FilePosition {
  path: string
  header?: string[]
}

export function parseCheckpoint(text: string | undefined, path: string): FileCheckpoint | undefined {
  if (text === undefined) return undefined
  try {
    const c = JSON.parse(text) as FileCheckpoint
    // A connector pointed at another file starts that file from its beginning.
    if (c.path !== path || typeof c.offset !== 'number') return undefined
    return c
  } catch {
    return undefined
  }
}

/** Headers of a dead-lettered line: where it came from, for tools; the error says it for people. */
export function lineHeaders(path: string, line: number): Record<string, string> {
  return { 'file-path': path, 'file-line': String(line) }
}
