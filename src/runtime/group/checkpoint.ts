/**
 * Local checkpoints of task state, so that a worker that gets a task back — after a restart,
 * a rolling deploy, or a rebalance that returns it — restores from a file on its own disk and
 * replays only the changelog records written since, instead of the whole changelog.
 *
 * A checkpoint is one store partition's committed state plus the changelog offset it is
 * complete up to (`position`): replaying the changelog from `position` on top of it yields
 * the state as of the changelog's end, whoever wrote those records. It is only ever written
 * from committed state (the worker applies state writes to memory after their commit lands),
 * so it is valid under exactly-once too, and it never has to be deleted while the task runs.
 *
 * A checkpoint is not used when:
 * - its position is past the changelog's end, or before its start (the topic was recreated
 *   or truncated): the state it holds belongs to another history;
 * - it is older than `maxAgeMs` (default 12 h): compaction removes tombstones after the
 *   topic's `delete.retention.ms` (Kafka's default: 24 h), so replaying from an older
 *   position could miss a delete and bring the key back.
 *
 * Layout: `<dir>/<store>/<partition>.checkpoint`, msgpack `{ v, position, savedAt, entries }`
 * with entries as `[key, value]` pairs; written to a temporary file and renamed, so a crash
 * mid-write leaves the previous checkpoint.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Packr } from 'msgpackr'

const packr = new Packr({ useRecords: false, moreTypes: true })
const VERSION = 1

export interface Checkpoint {
  /** The changelog offset the entries are complete up to (exclusive). */
  position: number
  savedAt: number
  /** Store keys (without the `<store>\0<partition>\0` prefix) and values. */
  entries: Array<[string, unknown]>
}

export class Checkpoints {
  readonly dir: string
  readonly maxAgeMs: number
  #tmp = 0
  readonly #pending = new Map<string, Promise<void>>()

  constructor(dir: string, maxAgeMs = 12 * 3_600_000) {
    this.dir = dir
    this.maxAgeMs = maxAgeMs
  }

  #file(store: string, partition: number): string {
    // Store names are `<pipeline>.<step>`: safe as a directory name, but keep slashes out.
    return join(this.dir, store.replaceAll('/', '_'), `${partition}.checkpoint`)
  }

  /** The checkpoint of one store partition, or null when there is none usable by age. */
  async read(store: string, partition: number, now = Date.now()): Promise<Checkpoint | null> {
    const file = this.#file(store, partition)
    // A task left and taken back at once: read the checkpoint its leaving wrote, not the one before.
    await this.#pending.get(file)
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch {
      return null
    }
    try {
      const c = packr.unpack(bytes) as Partial<Checkpoint> & { v?: unknown }
      if (c.v !== VERSION || typeof c.position !== 'number' || typeof c.savedAt !== 'number') return null
      if (!Array.isArray(c.entries) || now - c.savedAt > this.maxAgeMs) return null
      return { position: c.position, savedAt: c.savedAt, entries: c.entries }
    } catch {
      // A file that does not decode (another version, a disk fault) is no checkpoint: the
      // changelog has everything.
      return null
    }
  }

  /**
   * Writes a checkpoint. The entries are encoded now, so the caller may change them after;
   * writes of one file go out in call order (an older one never lands over a newer one).
   * A failed write leaves the previous checkpoint and is only reported to `onError`: the
   * changelog still has everything.
   */
  save(
    store: string,
    partition: number,
    position: number,
    entries: Array<[string, unknown]>,
    onError: (error: Error) => void = () => {},
  ): Promise<void> {
    const file = this.#file(store, partition)
    const bytes = packr.pack({ v: VERSION, position, savedAt: Date.now(), entries })
    const previous = this.#pending.get(file) ?? Promise.resolve()
    const next = previous.then(() => this.#write(file, bytes)).catch((error: Error) => onError(error))
    this.#pending.set(file, next)
    void next.then(() => {
      if (this.#pending.get(file) === next) this.#pending.delete(file)
    })
    return next
  }

  /** Waits for every write in flight. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending.values())
  }

  async #write(file: string, bytes: Uint8Array): Promise<void> {
    await mkdir(join(file, '..'), { recursive: true })
    // Workers sharing the directory may write the same partition's file: each its own temp.
    const tmp = `${file}.${process.pid}.${this.#tmp++}.tmp`
    try {
      await writeFile(tmp, bytes)
      await rename(tmp, file)
    } catch (error) {
      await rm(tmp, { force: true })
      throw error
    }
  }
}
