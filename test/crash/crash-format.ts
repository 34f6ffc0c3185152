/**
 * Shared by the crash test and its child writer: the deterministic record payloads and the
 * side file (a journal of intents and acknowledgements) the child keeps next to the log.
 */
import { readFileSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import type { ProducerRecord } from '../../src/log/types.ts'

export const TOPIC = 'crash'
export const PARTITIONS = 3
export const PRODUCER_NAME = 'crash-writer'

/** Exit codes of the child, so the parent can say what went wrong. */
export const EXIT = {
  /** An in-life retry of an acknowledged batch was not answered duplicate:true at the same offset. */
  retryNotDeduplicated: 3,
  /** A batch re-sent after a crash came back at offsets that do not hold its records. */
  recoveryMismatch: 4,
  /** initProducerId gave the named producer another id than in earlier lives. */
  producerIdChanged: 5,
  /** A first send of a batch was answered duplicate:true, or with the wrong count. */
  unexpectedAppendResult: 6,
  /** Anything else that threw. */
  error: 7,
} as const

/** The child announces on stdout that it is appending (the parent starts its kill timer). */
export const READY = 'ready'

/** A batch the child is about to send: everything needed to re-send it byte for byte. */
export interface Intent {
  t: 'intent'
  round: number
  /** Global batch number, unique over all lives. */
  b: number
  p: number
  producerId: number
  epoch: number
  /** Producer sequence of the first record (per producer, epoch and partition). */
  bs: number
  /** Global record number of the first record; the batch holds `from .. from + count - 1`. */
  from: number
  count: number
}

/** The log acknowledged a batch. */
export interface Ack {
  t: 'ack'
  round: number
  b: number
  p: number
  baseOffset: number
  count: number
  duplicate: boolean
  /** Re-sent after a restart because the previous life died before writing this ack. */
  recovered: boolean
}

/** An acknowledged batch was re-sent in the same life and answered as a duplicate. */
export interface RetryCheck {
  t: 'retry'
  round: number
  b: number
  baseOffset: number
}

export interface Init {
  t: 'init'
  round: number
  producerId: number
  epoch: number
}

export type JournalLine = Intent | Ack | RetryCheck | Init

/**
 * Reads the journal. A kill -9 can only tear the last line (every line is one write()), so a
 * last line that does not parse is ignored; a bad line anywhere else is an error.
 */
export function readJournal(path: string): JournalLine[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const lines = text.split('\n')
  const out: JournalLine[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line === '') continue
    try {
      out.push(JSON.parse(line) as JournalLine)
    } catch (error) {
      const isLast = lines.slice(i + 1).every((l) => l === '')
      if (!isLast) throw new Error(`journal ${path} line ${i + 1} is damaged: ${line}`, { cause: error })
    }
  }
  return out
}

/** The last intent that has no ack after it: the batch a killed life may or may not have appended. */
export function pendingIntent(journal: readonly JournalLine[]): Intent | null {
  const acked = new Set<number>()
  for (const line of journal) if (line.t === 'ack') acked.add(line.b)
  for (let i = journal.length - 1; i >= 0; i--) {
    const line = journal[i]!
    if (line.t === 'intent') return acked.has(line.b) ? null : line
  }
  return null
}

/** A deterministic pseudo-random 32-bit number per record (so payloads vary in size and bytes). */
function mix(n: number): number {
  let h = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The body of a record and its CRC, so that a reader can check a record on its own. */
export interface Payload {
  seq: number
  p: number
  epoch: number
  s: number
  pad: string
  crc: number
}

function body(seq: number, p: number, epoch: number, s: number): Omit<Payload, 'crc'> {
  const h = mix(seq)
  const pad = (h.toString(36) + mix(h).toString(36)).repeat(1 + (h % 7)).slice(0, h % 97)
  return { seq, p, epoch, s, pad }
}

export function payloadCrc(b: Omit<Payload, 'crc'>): number {
  return crc32(`${b.seq}|${b.p}|${b.epoch}|${b.s}|${b.pad}`)
}

/** The record with global number `seq`, sent as producer sequence `s` of `epoch` to partition `p`. */
export function makeRecord(seq: number, p: number, epoch: number, s: number): ProducerRecord {
  const b = body(seq, p, epoch, s)
  const payload: Payload = { ...b, crc: payloadCrc(b) }
  return {
    key: Buffer.from(`k${seq}`),
    value: Buffer.from(JSON.stringify(payload)),
    headers: { seq: String(seq) },
  }
}

/** The records of a batch, exactly as the child sends them (every time it sends them). */
export function batchRecords(intent: Intent): ProducerRecord[] {
  return Array.from({ length: intent.count }, (_, i) =>
    makeRecord(intent.from + i, intent.p, intent.epoch, intent.bs + i),
  )
}
