/**
 * The writer the crash test kills with SIGKILL, over and over.
 *
 *   node test/crash/append-child.ts <dataDir> <journal> <round> [dieAfterBatch]
 *
 * Each life:
 * 1. Opens the log (`sync` durability) and creates topic "crash" if missing.
 * 2. Recovery, BEFORE initProducerId: if the journal's last intent has no ack, the previous
 *    life died while sending it. It is re-sent byte for byte with the same producer id,
 *    epoch and base sequence. That epoch is still the current one (no new epoch has been
 *    taken since the intent was written, see below), so the log either recognises the batch
 *    (duplicate:true, original offsets) or appends it for the first time. Either way it
 *    must end up in the log exactly once; the ack line says which happened.
 * 3. initProducerId('crash-writer') takes a new epoch. A new epoch starts its own sequence
 *    space (idempotence.ts: `epoch > state.epoch` is always appended, and resets the
 *    remembered batches), so every partition restarts at sequence 0. The journal's last
 *    intent is acknowledged at this point, so a later life never has to re-send a batch of
 *    an older epoch (which a fenced zombie would be).
 * 4. Prints "ready", then appends forever, round-robin over the partitions, one batch in
 *    flight: write+fsync an intent line, appendBatch, write+fsync an ack line. Sometimes it
 *    re-sends an acknowledged batch at once, which must be answered duplicate:true at the
 *    same offset (otherwise it exits with EXIT.retryNotDeduplicated).
 *
 * With `dieAfterBatch` = N it SIGKILLs itself right after the N-th batch of this life is
 * acknowledged by the log and before its ack line is written: a deterministic "appended but
 * the producer never heard back", which the next life's recovery must see as a duplicate.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { openEmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import type { TopicPartition } from '../../src/log/types.ts'
import {
  type Ack,
  batchRecords,
  EXIT,
  type Init,
  type Intent,
  PARTITIONS,
  PRODUCER_NAME,
  pendingIntent,
  READY,
  type RetryCheck,
  readJournal,
  TOPIC,
} from './crash-format.ts'

const RETRY_PROBABILITY = 0.15
const MAX_BATCH = 200

const [dataDir, journalPath, roundArg, dieArg] = process.argv.slice(2)
if (!dataDir || !journalPath || !roundArg) {
  process.stderr.write('usage: append-child.ts <dataDir> <journal> <round> [dieAfterBatch]\n')
  process.exit(EXIT.error)
}
const round = Number(roundArg)
const dieAfterBatch = Number(dieArg ?? 0)

function fail(code: number, message: string): never {
  process.stderr.write(`append-child (round ${round}): ${message}\n`)
  process.exit(code)
}

const journal = readJournal(journalPath)
const fd = openSync(journalPath, 'a')
/** One write() per line, then fdatasync: a line is either whole on disk or (last) torn. */
function record(line: Intent | Ack | RetryCheck | Init): void {
  writeSync(fd, `${JSON.stringify(line)}\n`)
  fdatasyncSync(fd)
}

function sameContent(log: Awaited<ReturnType<typeof openEmbeddedLog>>, intent: Intent, at: number): boolean {
  const tp: TopicPartition = { topic: TOPIC, partition: intent.p }
  const stored = log.read(tp, at, { maxRecords: intent.count })
  const expected = batchRecords(intent)
  if (stored.length !== expected.length) return false
  return stored.every(
    (r, i) =>
      r.offset === at + i &&
      Buffer.from(r.value!).equals(Buffer.from(expected[i]!.value!)) &&
      Buffer.from(r.key!).equals(Buffer.from(expected[i]!.key!)) &&
      isDeepStrictEqual({ ...r.headers }, expected[i]!.headers),
  )
}

try {
  const log = await openEmbeddedLog({ dataDir, durability: 'sync' })
  if (!(await log.hasTopic(TOPIC))) await log.createTopic(TOPIC, { partitions: PARTITIONS })

  // 2. Recovery of the batch the previous life may have died sending.
  const pending = pendingIntent(journal)
  if (pending) {
    const result = await log.appendBatch({ topic: TOPIC, partition: pending.p }, batchRecords(pending), {
      producerId: pending.producerId,
      epoch: pending.epoch,
      baseSequence: pending.bs,
    })
    if (result.count !== pending.count || !sameContent(log, pending, result.baseOffset)) {
      fail(
        EXIT.recoveryMismatch,
        `re-sent batch ${pending.b} came back as ${JSON.stringify(result)}, which does not hold its records`,
      )
    }
    record({
      t: 'ack',
      round,
      b: pending.b,
      p: pending.p,
      baseOffset: result.baseOffset,
      count: result.count,
      duplicate: result.duplicate,
      recovered: true,
    })
  }

  // 3. A new epoch of the named producer.
  const { producerId, epoch } = await log.initProducerId(PRODUCER_NAME)
  const earlier = journal.find((l): l is Init => l.t === 'init')
  if (earlier && earlier.producerId !== producerId) {
    fail(
      EXIT.producerIdChanged,
      `producer "${PRODUCER_NAME}" was id ${earlier.producerId}, now ${producerId}`,
    )
  }
  record({ t: 'init', round, producerId, epoch })

  let nextSeq = 0
  let nextBatch = 0
  for (const line of journal) {
    if (line.t !== 'intent') continue
    nextSeq = Math.max(nextSeq, line.from + line.count)
    nextBatch = Math.max(nextBatch, line.b + 1)
  }
  const sequences = new Array<number>(PARTITIONS).fill(0)
  process.stdout.write(`${READY}\n`)

  // 4. Append until killed.
  for (let sent = 1; ; sent++) {
    const p = nextBatch % PARTITIONS
    const intent: Intent = {
      t: 'intent',
      round,
      b: nextBatch,
      p,
      producerId,
      epoch,
      bs: sequences[p]!,
      from: nextSeq,
      count: 1 + Math.floor(Math.random() * MAX_BATCH),
    }
    const records = batchRecords(intent)
    const options = { producerId, epoch, baseSequence: intent.bs }
    const tp = { topic: TOPIC, partition: p }
    record(intent)
    const result = await log.appendBatch(tp, records, options)
    if (result.duplicate || result.count !== intent.count) {
      fail(EXIT.unexpectedAppendResult, `first send of batch ${intent.b} answered ${JSON.stringify(result)}`)
    }
    if (sent === dieAfterBatch) process.kill(process.pid, 'SIGKILL')
    record({
      t: 'ack',
      round,
      b: intent.b,
      p,
      baseOffset: result.baseOffset,
      count: result.count,
      duplicate: false,
      recovered: false,
    })
    sequences[p]! += intent.count
    nextSeq += intent.count
    nextBatch++
    if (Math.random() < RETRY_PROBABILITY) {
      const retry = await log.appendBatch(tp, records, options)
      if (!retry.duplicate || retry.baseOffset !== result.baseOffset || retry.count !== result.count) {
        fail(
          EXIT.retryNotDeduplicated,
          `retry of batch ${intent.b} (acked at offset ${result.baseOffset}) answered ${JSON.stringify(retry)}`,
        )
      }
      record({ t: 'retry', round, b: intent.b, baseOffset: retry.baseOffset })
    }
  }
} catch (error) {
  closeSync(fd)
  fail(EXIT.error, (error as Error).stack ?? String(error))
}
