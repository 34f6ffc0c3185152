/**
 * The open files of an `ndjsonFileSink`: one `RollingFile` per partition directory (Hive-style,
 * `dt=2026-11-24/hm=10:05`, or the sink's directory itself when it is not partitioned), opened
 * on first use, closed once idle for `rollMs`, and at most `maxOpen` at once (the least
 * recently used is closed first). A sink partitioned by minute runs for months: its
 * descriptors, timers and memory must depend on how many partitions are *active*, not on how
 * many it has ever seen.
 *
 * Everything here is serialized (appends, idle closes, close): closing a file can never
 * interleave with an append to it.
 *
 * Durability: a partition directory that had to be created is fsynced into its parent (and
 * each directory created above it into its own) before its first file is created; RollingFile
 * then fsyncs the file's entry and data. So what `append` acknowledged is still reachable from
 * the sink's directory after a crash.
 */
import { mkdir, open } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { RollingFile } from './rolling-file.ts'

export interface PartitionedFilesOptions {
  /** The sink's directory (exists). */
  dir: string
  prefix: string
  rollBytes: number
  rollMs: number
  /** Most files open at once. */
  maxOpen: number
}

/**
 * Why `path` cannot be a partition directory, or undefined when it can: a relative path below
 * the sink's directory, segments separated by `/`, none empty, `.` or `..` (so a partition can
 * never write outside the directory, and each directory has one spelling).
 */
export function partitionPathError(path: unknown): string | undefined {
  if (typeof path !== 'string') return `it is ${path === null ? 'null' : typeof path}, not a string`
  if (path === '') return 'it is empty'
  if (path.startsWith('/')) return 'it is absolute'
  if (path.includes('\\')) return 'it holds a backslash; separate directories with /'
  if (path.includes('\0')) return 'it holds a NUL character'
  for (const segment of path.split('/')) {
    if (segment === '') return 'it has an empty segment (a leading, trailing or doubled /)'
    if (segment === '..' || segment === '.') return `it has a "${segment}" segment`
  }
  return undefined
}

export class PartitionedFiles {
  readonly #options: PartitionedFilesOptions
  /** Open files by partition, least recently used first (a Map keeps insertion order). */
  readonly #open = new Map<string, { file: RollingFile; usedAt: number }>()
  #queue: Promise<unknown> = Promise.resolve()
  readonly #timer: NodeJS.Timeout

  constructor(options: PartitionedFilesOptions) {
    this.#options = options
    this.#timer = setInterval(
      () => void this.#serial(() => this.#closeIdle()),
      Math.min(options.rollMs, 1_000),
    )
    this.#timer.unref()
  }

  /** Files open now (for status and tests). */
  get openCount(): number {
    return this.#open.size
  }

  /**
   * Appends each partition's lines (each ending in `\n`) to that partition's file; resolves once
   * all of them are durable. When one partition fails, the others still finish before this
   * rejects, so a retry never runs beside a write still in flight.
   */
  append(partitions: ReadonlyMap<string, readonly string[]>): Promise<void> {
    return this.#serial(async () => {
      const all = [...partitions]
      // In chunks of at most maxOpen partitions, written in parallel (one fdatasync each, not
      // one after the other). Opening a chunk's files never closes one of the same chunk: those
      // just became the most recently used, and a chunk never fills the whole LRU.
      for (let i = 0; i < all.length; i += this.#options.maxOpen) {
        const chunk = all.slice(i, i + this.#options.maxOpen)
        const files: RollingFile[] = []
        for (const [partition] of chunk) files.push(await this.#acquire(partition))
        const results = await Promise.allSettled(chunk.map(([, lines], j) => files[j]!.append(lines)))
        const now = Date.now()
        for (const [partition] of chunk) {
          const entry = this.#open.get(partition)
          if (entry) entry.usedAt = now
        }
        for (const r of results) if (r.status === 'rejected') throw r.reason
      }
    })
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.#serial(async () => {
      const files = [...this.#open.values()]
      this.#open.clear()
      await Promise.all(files.map((f) => f.file.close()))
    })
  }

  #serial<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return run
  }

  async #acquire(partition: string): Promise<RollingFile> {
    const found = this.#open.get(partition)
    if (found) {
      // Move to the most recently used end.
      this.#open.delete(partition)
      this.#open.set(partition, found)
      return found.file
    }
    while (this.#open.size >= this.#options.maxOpen) {
      const [oldest, entry] = this.#open.entries().next().value!
      this.#open.delete(oldest)
      await entry.file.close()
    }
    const { dir, prefix, rollBytes, rollMs } = this.#options
    const path = partition === '' ? dir : join(dir, partition)
    if (partition !== '') await makeDurableDir(path)
    const file = new RollingFile({ dir: path, prefix, rollBytes, rollMs })
    this.#open.set(partition, { file, usedAt: Date.now() })
    return file
  }

  async #closeIdle(): Promise<void> {
    const idleSince = Date.now() - this.#options.rollMs
    for (const [partition, entry] of this.#open) {
      if (entry.usedAt > idleSince) continue
      this.#open.delete(partition)
      // Its lines are fsynced already: a failed close loses nothing.
      await entry.file.close().catch(() => {})
    }
  }
}

/** Creates `path` and its missing parents, and fsyncs each new directory's entry into its parent. */
async function makeDurableDir(path: string): Promise<void> {
  // mkdir answers with an absolute path: compare like with like.
  path = resolve(path)
  const first = await mkdir(path, { recursive: true })
  if (first === undefined) return
  const parents: string[] = []
  for (let d = path; ; d = dirname(d)) {
    parents.push(dirname(d))
    if (d === first || dirname(d) === d) break
  }
  for (const parent of parents) {
    const handle = await open(parent, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}
