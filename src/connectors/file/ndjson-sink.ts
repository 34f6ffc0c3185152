/**
 * `ndjsonFileSink()`: writes a topic's records as NDJSON files in a directory, one value per
 * line, rolling to a new file by size and age; with `partitionBy`, in Hive-style partition
 * directories (`dt=2026-11-24/hm=10:05/`), one rolling file per directory.
 * @example
 * connect('alerts-archive', { from: alerts, to: ndjsonFileSink({ dir: 'archive/alerts', rollBytes: 64 << 20 }) })
 * connect('bids-archive', {
 *   from: bids,
 *   to: ndjsonFileSink({ dir: 'archive/bids', partitionBy: (b) => `dt=${b.day}/hm=${b.minute}` }),
 * })
 */
import { mkdir } from 'node:fs/promises'
import { SluiceError } from '../../errors.ts'
import type { Sink, SinkBatch, SinkContext, SinkRecord } from '../types.ts'
import { PartitionedFiles, partitionPathError } from './partitioned-files.ts'

export interface NdjsonFileSinkOptions<T = unknown> {
  /** Where the files go; created if missing. */
  dir: string
  /**
   * The partition directory of a record, relative to `dir`: e.g. `dt=${r.day}/hm=${r.minute}`.
   * Segments are separated by `/`; none may be empty, `.` or `..`. A record whose directory is
   * not valid (or whose `partitionBy` throws) goes to the connector's dead-letter topic with the
   * reason. Default: no partitions, every file directly in `dir`.
   */
  partitionBy?: (value: T) => string
  /** Most partition files open at once; the least recently used is closed first (default 64). */
  maxOpenPartitions?: number
  /** File names are `<prefix>-<UTC time>-<n>.ndjson` (default prefix: the connector's name). */
  prefix?: string
  /** Start a new file before one would grow past this many bytes (default 128 MiB). */
  rollBytes?: number
  /**
   * Start a new file once the current one is this old, ms (default 1 hour). A partition's file
   * is also closed once no record has gone to it for this long.
   */
  rollMs?: number
  /** Most records per write (default 1,000). */
  batchSize?: number
}

/**
 * At-least-once: each batch is written and fsynced before `write` resolves and Sluice commits
 * the consumer position; a crash between the two writes the batch again on restart, so a line
 * can appear twice (in the same or the next file). Each start opens new files.
 */
export function ndjsonFileSink<T = unknown>(options: NdjsonFileSinkOptions<NoInfer<T>>): Sink<T> {
  const rollBytes = options.rollBytes ?? 128 * 1024 * 1024
  const rollMs = options.rollMs ?? 60 * 60 * 1000
  const maxOpen = options.maxOpenPartitions ?? 64
  for (const [key, v] of [
    ['rollBytes', rollBytes],
    ['rollMs', rollMs],
    ['maxOpenPartitions', maxOpen],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `ndjsonFileSink: ${key} must be a positive integer, got ${v}`,
      )
    }
  }
  const { partitionBy } = options
  if (partitionBy !== undefined && typeof partitionBy !== 'function') {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      'ndjsonFileSink: partitionBy must be a function from a record to its directory, e.g. (r) => "dt=" + r.day',
    )
  }
  let files: PartitionedFiles | undefined
  let context: SinkContext | undefined
  return {
    role: 'sink',
    type: 'ndjson-file',
    guarantee: 'at-least-once',
    batchSize: options.batchSize ?? 1_000,
    async open(ctx: SinkContext) {
      context = ctx
      await mkdir(options.dir, { recursive: true })
      files = new PartitionedFiles({
        dir: options.dir,
        prefix: options.prefix ?? ctx.connector,
        rollBytes,
        rollMs,
        // Unpartitioned, the one file lives in '' (the directory itself).
        maxOpen: partitionBy ? maxOpen : 1,
      })
    },
    async write(batch: SinkBatch<T>) {
      if (!partitionBy) {
        await files!.append(new Map([['', batch.records.map((r) => `${JSON.stringify(r.value)}\n`)]]))
        return
      }
      const { partitions, rejected } = split(batch.records, partitionBy)
      await files!.append(partitions)
      // After the files: if dead-lettering fails, the retry repeats lines (at-least-once allows
      // that) rather than losing them.
      await Promise.all([...rejected].map(([error, records]) => context!.deadLetter(records, error)))
    },
    async close() {
      await files?.close()
    },
  }
}

/** A batch's lines per partition directory (in record order), and the records refused, by reason. */
function split<T>(
  records: readonly SinkRecord<T>[],
  partitionBy: (value: T) => string,
): { partitions: Map<string, string[]>; rejected: Map<string, SinkRecord<T>[]> } {
  const partitions = new Map<string, string[]>()
  const rejected = new Map<string, SinkRecord<T>[]>()
  for (const r of records) {
    let path: unknown
    try {
      path = partitionBy(r.value)
    } catch (thrown) {
      reject(
        rejected,
        r,
        `ndjsonFileSink: partitionBy threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
      )
      continue
    }
    // A directory already in this batch is valid: check each one once per batch, not per record.
    let lines = typeof path === 'string' ? partitions.get(path) : undefined
    if (lines === undefined) {
      const why = partitionPathError(path)
      if (why !== undefined) {
        const shown = typeof path === 'string' ? `"${path.slice(0, 200)}"` : String(path)
        reject(
          rejected,
          r,
          `ndjsonFileSink: partitionBy returned ${shown}, not a partition directory: ${why}. It must return a relative directory such as "dt=2026-11-24/hm=10:05"`,
        )
        continue
      }
      lines = []
      partitions.set(path as string, lines)
    }
    lines.push(`${JSON.stringify(r.value)}\n`)
  }
  return { partitions, rejected }
}

function reject<T>(rejected: Map<string, SinkRecord<T>[]>, record: SinkRecord<T>, error: string): void {
  const list = rejected.get(error)
  if (list) list.push(record)
  else rejected.set(error, [record])
}
