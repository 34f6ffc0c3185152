/**
 * `ndjsonFileSink()`: writes a topic's records as NDJSON files in a directory, one value per
 * line, rolling to a new file by size and age.
 * @example
 * connect('alerts-archive', { from: alerts, to: ndjsonFileSink({ dir: 'archive/alerts', rollBytes: 64 << 20 }) })
 */
import { mkdir } from 'node:fs/promises'
import { SluiceError } from '../../errors.ts'
import type { Sink, SinkBatch, SinkContext } from '../types.ts'
import { RollingFile } from './rolling-file.ts'

export interface NdjsonFileSinkOptions {
  /** Where the files go; created if missing. */
  dir: string
  /** File names are `<prefix>-<UTC time>-<n>.ndjson` (default prefix: the connector's name). */
  prefix?: string
  /** Start a new file before one would grow past this many bytes (default 128 MiB). */
  rollBytes?: number
  /** Start a new file once the current one is this old, ms (default 1 hour). */
  rollMs?: number
  /** Most records per write (default 1,000). */
  batchSize?: number
}

/**
 * At-least-once: each batch is written and fsynced before `write` resolves and Sluice commits
 * the consumer position; a crash between the two writes the batch again on restart, so a line
 * can appear twice (in the same or the next file). Each start opens a new file.
 */
export function ndjsonFileSink<T = unknown>(options: NdjsonFileSinkOptions): Sink<T> {
  const rollBytes = options.rollBytes ?? 128 * 1024 * 1024
  const rollMs = options.rollMs ?? 60 * 60 * 1000
  for (const [key, v] of [
    ['rollBytes', rollBytes],
    ['rollMs', rollMs],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `ndjsonFileSink: ${key} must be a positive integer, got ${v}`,
      )
    }
  }
  let file: RollingFile | undefined
  return {
    role: 'sink',
    type: 'ndjson-file',
    guarantee: 'at-least-once',
    batchSize: options.batchSize ?? 1_000,
    async open(context: SinkContext) {
      await mkdir(options.dir, { recursive: true })
      file = new RollingFile({
        dir: options.dir,
        prefix: options.prefix ?? context.connector,
        rollBytes,
        rollMs,
      })
    },
    async write(batch: SinkBatch<T>) {
      const lines = batch.records.map((r) => `${JSON.stringify(r.value)}\n`)
      await file!.append(lines)
    },
    async close() {
      await file?.close()
    },
  }
}
