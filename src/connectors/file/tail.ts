/**
 * Reads a file as a sequence of units (an NDJSON line, a CSV record), from a saved position,
 * once or following appends like `tail -F`. What a unit is, the caller says (`unitEnd`); this
 * module owns the bytes: partial units, positions, rotation and truncation.
 *
 * Invariant: a batch's `position` is the byte offset just past its last unit, so a checkpoint of
 * it resumes at the first unit not yet handed out — never inside one. A unit is complete only
 * once its terminating newline is on disk; a last line without one waits for it when
 * following, and counts as complete when reading once (the file is finished by definition).
 */
import { type FileHandle, open, stat } from 'node:fs/promises'
import { sleep } from '../status.ts'

/** Where reading resumes: the file (by inode, which a rotation changes), a byte offset and its line number. */
export interface FilePosition {
  ino: number
  offset: number
  line: number
}

export interface Unit {
  /** The unit's text without its line ending (and without a byte-order mark at the file's start). */
  text: string
  /** Line number of the unit's first line, from 1. */
  line: number
  /** The unit starts at byte 0 of its file (where a CSV header is). */
  fileStart: boolean
  /** Longer than `maxUnitBytes`: `text` holds only its beginning and the rest was skipped. */
  tooLong?: true
}

export interface UnitBatch {
  units: Unit[]
  /** Just past the last unit: checkpoint this. */
  position: FilePosition
}

export interface TailOptions {
  path: string
  follow: boolean
  pollMs: number
  batchSize: number
  maxUnitBytes: number
  /** End (exclusive) of the unit that starts at `buf[0]`, or -1 when `buf` does not hold all of it. */
  unitEnd: (buf: Buffer) => number
  signal: AbortSignal
  report: (message: string) => void
}

const CHUNK = 64 * 1024
const LF = 0x0a
const EMPTY = Buffer.alloc(0)

/** Yields batches of units until the file ends (read once) or the signal aborts (follow). */
export async function* readUnits(
  options: TailOptions,
  start: FilePosition | undefined,
): AsyncGenerator<UnitBatch> {
  const { path, follow, signal, batchSize, maxUnitBytes } = options
  const opened = await openFile(options)
  if (!opened) return
  let { fh, ino } = opened
  // `unitStart`/`line`: where the next unit begins. `buf` holds the bytes read from `bufAt` on;
  // they are the next unit's, except while skipping an over-long one.
  let unitStart = 0
  let line = 1
  if (start) {
    const size = (await fh.stat()).size
    if (start.ino === ino && start.offset <= size) {
      unitStart = start.offset
      line = start.line
    } else {
      options.report(
        start.ino === ino
          ? `${path} is shorter than the checkpoint (${size} < ${start.offset} bytes): it was truncated; reading it from the start`
          : `${path} is not the file of the checkpoint (it was rotated or replaced); reading it from the start`,
      )
    }
  }
  let bufAt = unitStart
  let buf: Buffer = EMPTY
  let skipping: { line: number; head: string } | undefined
  let units: Unit[] = []
  let rotationSeen = false
  const chunk = Buffer.allocUnsafe(CHUNK)

  const take = (end: number): Buffer => {
    const bytes = buf.subarray(0, end)
    buf = buf.subarray(end)
    bufAt += end
    return bytes
  }
  /** Moves the next complete unit from `buf` to `units`; false when there is none yet. */
  const extract = (): boolean => {
    if (skipping) {
      const nl = buf.indexOf(LF)
      if (nl < 0) {
        take(buf.length)
        return false
      }
      take(nl + 1)
      units.push({ text: skipping.head, line: skipping.line, fileStart: false, tooLong: true })
      line = skipping.line + 1
      unitStart = bufAt
      skipping = undefined
      return true
    }
    if (buf.length === 0) return false
    const end = options.unitEnd(buf)
    if (end < 0) {
      if (buf.length <= maxUnitBytes) return false
      // Resume at the next newline: one bad line (or a runaway quote) costs one dead letter.
      skipping = { line, head: buf.toString('utf8', 0, 1024) }
      return extract()
    }
    if (end > maxUnitBytes) {
      const bytes = take(end)
      units.push({ text: bytes.toString('utf8', 0, 1024), line, fileStart: false, tooLong: true })
      line += countNewlines(bytes)
      unitStart = bufAt
      return true
    }
    pushUnit(take(end))
    return true
  }
  const pushUnit = (bytes: Buffer) => {
    units.push({ text: unitText(bytes, unitStart === 0), line, fileStart: unitStart === 0 })
    line += countNewlines(bytes)
    unitStart = bufAt
  }
  /** The file is finished (read once, or rotated away): what is left is the last unit. */
  const flushRest = () => {
    if (skipping) {
      take(buf.length)
      units.push({ text: skipping.head, line: skipping.line, fileStart: false, tooLong: true })
      line = skipping.line + 1
      unitStart = bufAt
      skipping = undefined
    } else if (buf.length > 0) {
      pushUnit(take(buf.length))
    }
  }
  const batch = (): UnitBatch => {
    const out = { units, position: { ino, offset: unitStart, line } }
    units = []
    return out
  }

  try {
    while (!signal.aborted) {
      while (units.length < batchSize && extract()) {}
      if (units.length >= batchSize) {
        yield batch()
        continue
      }
      const { bytesRead } = await fh.read(chunk, 0, CHUNK, bufAt + buf.length)
      if (bytesRead > 0) {
        buf =
          buf.length === 0
            ? Buffer.from(chunk.subarray(0, bytesRead))
            : Buffer.concat([buf, chunk.subarray(0, bytesRead)])
        continue
      }
      // At the end of what the file holds now.
      if (units.length > 0) {
        yield batch()
        continue
      }
      if (!follow) {
        flushRest()
        if (units.length > 0) yield batch()
        return
      }
      const current = await stat(path).catch(() => undefined)
      if (current && current.ino !== ino) {
        // Rotated: read the old file to its end once more (its writer may have added a last
        // line since), then its remainder is complete and the new file starts at byte 0.
        if (!rotationSeen) {
          rotationSeen = true
          continue
        }
        flushRest()
        if (units.length > 0) yield batch()
        await fh.close()
        const next = await openFile(options)
        if (!next) return
        ;({ fh, ino } = next)
        unitStart = bufAt = 0
        line = 1
        buf = EMPTY
        rotationSeen = false
        options.report(`${path} was rotated; reading the new file from the start`)
        continue
      }
      if ((await fh.stat()).size < bufAt + buf.length) {
        // Truncated in place (copytruncate): the partial unit we held is gone with it.
        options.report(`${path} was truncated; reading it from the start`)
        unitStart = bufAt = 0
        line = 1
        buf = EMPTY
        skipping = undefined
        continue
      }
      await sleep(options.pollMs, signal)
    }
  } finally {
    await fh.close().catch(() => {})
  }
}

/** Opens the file; when following, waits for it to appear. Undefined when aborted meanwhile. */
async function openFile(options: TailOptions): Promise<{ fh: FileHandle; ino: number } | undefined> {
  let reported = false
  while (!options.signal.aborted) {
    try {
      const fh = await open(options.path, 'r')
      return { fh, ino: (await fh.stat()).ino }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      if (!options.follow) {
        throw new Error(
          `file ${options.path} does not exist; check the path (or set follow: true to wait for it)`,
        )
      }
      if (!reported) options.report(`waiting for ${options.path} to be created`)
      reported = true
      await sleep(options.pollMs, options.signal)
    }
  }
  return undefined
}

function unitText(bytes: Buffer, fileStart: boolean): string {
  let end = bytes.length
  if (end > 0 && bytes[end - 1] === LF) end--
  if (end > 0 && bytes[end - 1] === 0x0d) end--
  const bom = fileStart && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  return bytes.toString('utf8', bom, Math.max(bom, end))
}

function countNewlines(bytes: Buffer): number {
  let n = 0
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, i + 1)) n++
  return n
}
