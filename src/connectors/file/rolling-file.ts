/**
 * The file behind `ndjsonFileSink`: appends lines to the current file and rolls to a new one by
 * size or age. Appends are serialized (a roll on the timer cannot interleave with a write).
 *
 * Durability: `append` resolves after the lines are written and `fdatasync`ed, and a new file's
 * directory entry is fsynced when the file is created, so what `append` acknowledged survives
 * a crash. A failed append truncates the file back to where it started, so a retry does not
 * leave half a line in front of the repeated batch.
 */
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'

export interface RollingFileOptions {
  dir: string
  prefix: string
  rollBytes: number
  rollMs: number
}

export class RollingFile {
  readonly #options: RollingFileOptions
  #fh: FileHandle | undefined
  #bytes = 0
  #openedAt = 0
  #seq = 0
  #queue: Promise<unknown> = Promise.resolve()
  readonly #timer: NodeJS.Timeout

  constructor(options: RollingFileOptions) {
    this.#options = options
    // Roll an idle file on time too, so it is closed (complete) rollMs after it was opened.
    this.#timer = setInterval(
      () => {
        if (this.#fh && Date.now() - this.#openedAt >= options.rollMs)
          void this.#serial(() => this.#rollIfOld())
      },
      Math.min(options.rollMs, 1_000),
    )
    this.#timer.unref()
  }

  /** Appends the lines (each ending in `\n`), rolling before a line that would pass `rollBytes`. */
  append(lines: readonly string[]): Promise<void> {
    return this.#serial(async () => {
      await this.#rollIfOld()
      let pending: string[] = []
      let pendingBytes = 0
      for (const line of lines) {
        const size = Buffer.byteLength(line)
        if (this.#bytes + pendingBytes > 0 && this.#bytes + pendingBytes + size > this.#options.rollBytes) {
          await this.#write(pending.join(''), pendingBytes)
          await this.#finish()
          pending = []
          pendingBytes = 0
        }
        pending.push(line)
        pendingBytes += size
      }
      await this.#write(pending.join(''), pendingBytes)
    })
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.#serial(() => this.#finish())
  }

  #serial<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return run
  }

  async #rollIfOld(): Promise<void> {
    if (this.#fh && Date.now() - this.#openedAt >= this.#options.rollMs) await this.#finish()
  }

  async #write(text: string, bytes: number): Promise<void> {
    if (bytes === 0) return
    const fh = this.#fh ?? (await this.#start())
    try {
      await fh.write(text)
      await fh.datasync()
    } catch (error) {
      await fh.truncate(this.#bytes).catch(() => this.#finish())
      throw error
    }
    this.#bytes += bytes
  }

  async #start(): Promise<FileHandle> {
    const { dir, prefix } = this.#options
    const time = new Date().toISOString().replace(/[-:.]/g, '')
    for (;;) {
      const name = `${prefix}-${time}-${String(this.#seq++).padStart(4, '0')}.ndjson`
      try {
        this.#fh = await open(join(dir, name), 'ax')
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
    const dirHandle = await open(dir, 'r')
    try {
      await dirHandle.sync()
    } finally {
      await dirHandle.close()
    }
    this.#bytes = 0
    this.#openedAt = Date.now()
    return this.#fh
  }

  async #finish(): Promise<void> {
    const fh = this.#fh
    this.#fh = undefined
    this.#bytes = 0
    await fh?.close()
  }
}
