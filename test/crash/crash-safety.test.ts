/**
 * Crash safety of the embedded log: a writer killed with SIGKILL at random moments, many
 * times over, never loses an acknowledged record, never corrupts one, and its retries never
 * duplicate one. Run with `npm run test:crash` (not part of the unit suite: it takes ~15 s).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { isSluiceError } from '../../src/errors.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import type { LogRecord } from '../../src/log/types.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import {
  type Ack,
  EXIT,
  type Init,
  type Intent,
  makeRecord,
  PARTITIONS,
  type Payload,
  payloadCrc,
  READY,
  readJournal,
  TOPIC,
} from './crash-format.ts'

const CHILD = fileURLToPath(new URL('./append-child.ts', import.meta.url))
const ROUNDS = 24
/** Rounds whose child SIGKILLs itself right after a batch is appended, before it records the ack. */
const SELF_KILL_ROUNDS = new Set([5, 12, 19])
const READY_TIMEOUT_MS = 20_000

interface Life {
  round: number
  code: number | null
  signal: NodeJS.Signals | null
  ready: boolean
  stderr: string
  killAfterMs: number | null
}

const exitNames = new Map<number, string>(Object.entries(EXIT).map(([name, code]) => [code, name]))

/** Runs one life of the child: spawn, wait for "ready", wait a little, SIGKILL, wait for the exit. */
function runLife(dataDir: string, journal: string, round: number, dieAfterBatch: number): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [CHILD, dataDir, journal, String(round), String(dieAfterBatch)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const life: Life = { round, code: null, signal: null, ready: false, stderr: '', killAfterMs: null }
    let stdout = ''
    const timers: NodeJS.Timeout[] = []
    const kill = () => child.kill('SIGKILL')
    timers.push(setTimeout(kill, READY_TIMEOUT_MS))
    child.stderr!.on('data', (chunk: Buffer) => {
      life.stderr += chunk.toString()
    })
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (!life.ready && stdout.split('\n').includes(READY)) {
        life.ready = true
        // A self-killing life is left alone so that it reaches its own SIGKILL.
        if (dieAfterBatch === 0) {
          life.killAfterMs = 50 + Math.floor(Math.random() * 351)
          timers.push(setTimeout(kill, life.killAfterMs))
        }
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      life.code = code
      life.signal = signal
      resolve(life)
    })
  })
}

function describeLife(life: Life): string {
  const why =
    life.code === null ? `signal ${life.signal}` : `exit code ${life.code} (${exitNames.get(life.code)})`
  return `round ${life.round}: child ended by ${why}, ready=${life.ready}\n${life.stderr}`
}

function readPartition(log: EmbeddedLog, partition: number): LogRecord[] {
  const tp = { topic: TOPIC, partition }
  const out: LogRecord[] = []
  let offset = log.partition(tp).startOffset
  for (;;) {
    const batch = log.read(tp, offset)
    if (batch.length === 0) return out
    out.push(...batch)
    offset = batch[batch.length - 1]!.offset + 1
  }
}

describe('a writer killed with SIGKILL again and again', () => {
  test(`${ROUNDS} kill -9 rounds: nothing acknowledged is lost or damaged, nothing is duplicated`, {
    timeout: 120_000,
  }, async (t) => {
    const started = performance.now()
    const dataDir = tempDir('sluice-crash-')
    const journalPath = join(tempDir('sluice-crash-journal-'), 'journal.jsonl')

    // ---- the rounds
    const lives: Life[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const dieAfterBatch = SELF_KILL_ROUNDS.has(round) ? 2 + Math.floor(Math.random() * 8) : 0
      const life = await runLife(dataDir, journalPath, round, dieAfterBatch)
      lives.push(life)
      assert.ok(life.ready, `the child never became ready: ${describeLife(life)}`)
      assert.equal(life.signal, 'SIGKILL', `the child must only end by SIGKILL: ${describeLife(life)}`)
    }
    const roundsMs = performance.now() - started

    // ---- the journal
    const journal = readJournal(journalPath)
    const intents = new Map<number, Intent>()
    const acks = new Map<number, Ack>()
    const inits: Init[] = []
    let retries = 0
    for (const line of journal) {
      if (line.t === 'init') inits.push(line)
      if (line.t === 'intent') {
        assert.ok(!intents.has(line.b), `batch ${line.b} has two intents`)
        intents.set(line.b, line)
      }
      if (line.t === 'ack') {
        assert.ok(intents.has(line.b), `ack of batch ${line.b} without an intent before it`)
        assert.ok(!acks.has(line.b), `batch ${line.b} was acknowledged twice`)
        assert.equal(line.count, intents.get(line.b)!.count)
        acks.set(line.b, line)
      }
      if (line.t === 'retry') {
        retries++
        assert.equal(line.baseOffset, acks.get(line.b)?.baseOffset, `retry of batch ${line.b}`)
      }
    }
    assert.equal(inits.length, ROUNDS, 'every life took a new producer epoch')
    for (let i = 0; i < inits.length; i++) {
      assert.equal(inits[i]!.producerId, inits[0]!.producerId, 'the named producer keeps its id')
      assert.equal(inits[i]!.epoch, inits[0]!.epoch + i, 'each initProducerId bumps the epoch by one')
    }
    // Every batch but the very last one has been acknowledged (earlier ones by recovery).
    const lastBatch = Math.max(...intents.keys())
    for (const b of intents.keys()) {
      if (b !== lastBatch) assert.ok(acks.has(b), `batch ${b} was never acknowledged`)
    }
    const pending = acks.has(lastBatch) ? null : intents.get(lastBatch)!

    // The self-killed lives appended a batch and died before its ack: the next life's re-send
    // must have been recognised as a duplicate, with the original offsets.
    for (const round of SELF_KILL_ROUNDS) {
      const recovered = [...acks.values()].filter((a) => a.recovered && a.round === round + 1)
      assert.equal(recovered.length, 1, `round ${round + 1} re-sent the batch round ${round} died on`)
      assert.equal(recovered[0]!.duplicate, true, `round ${round + 1}: the re-sent batch was appended again`)
    }

    // ---- the log
    const log = await openEmbeddedLog({ dataDir, durability: 'sync' })
    try {
      const owner = new Map<number, Intent>()
      for (const intent of intents.values()) {
        for (let i = 0; i < intent.count; i++) owner.set(intent.from + i, intent)
      }
      const where = new Map<number, string>()
      const description = log.describeTopicSync(TOPIC)
      let stored = 0
      let pendingStored = 0
      for (let p = 0; p < PARTITIONS; p++) {
        const records = readPartition(log, p)
        assert.equal(description.partitionDetails[p]!.startOffset, 0)
        assert.equal(description.partitionDetails[p]!.endOffset, records.length)
        let previousSeq = -1
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!
          const at = `partition ${p} offset ${r.offset}`
          assert.equal(r.offset, i, `offsets of partition ${p} are contiguous from 0`)
          const payload = JSON.parse(Buffer.from(r.value!).toString()) as Payload
          const { crc, ...body } = payload
          assert.equal(crc, payloadCrc(body), `${at}: the record's own checksum`)
          assert.equal(payload.p, p, `${at}: record written for partition ${payload.p}`)
          assert.ok(
            !where.has(payload.seq),
            `record ${payload.seq} is stored twice: ${where.get(payload.seq)} and ${at}`,
          )
          where.set(payload.seq, at)
          assert.ok(payload.seq > previousSeq, `${at}: records out of order in partition ${p}`)
          previousSeq = payload.seq
          const intent = owner.get(payload.seq)
          assert.ok(intent, `${at}: record ${payload.seq} was never sent`)
          assert.equal(intent.p, p)
          const expected = makeRecord(payload.seq, p, intent.epoch, intent.bs + payload.seq - intent.from)
          assert.ok(Buffer.from(r.value!).equals(Buffer.from(expected.value!)), `${at}: value differs`)
          assert.ok(Buffer.from(r.key!).equals(Buffer.from(expected.key!)), `${at}: key differs`)
          assert.ok(isDeepStrictEqual({ ...r.headers }, expected.headers), `${at}: headers differ`)
          const ack = acks.get(intent.b)
          if (ack) {
            assert.equal(
              r.offset,
              ack.baseOffset + payload.seq - intent.from,
              `${at}: not where it was acked`,
            )
          } else {
            pendingStored++
          }
          stored++
        }
        // The producer's persisted sequence matches the last batch stored in the partition.
        if (records.length > 0) {
          const last = records[records.length - 1]!
          const intent = owner.get((JSON.parse(Buffer.from(last.value!).toString()) as Payload).seq)!
          assert.equal(
            log.lastSequence(inits[0]!.producerId, { topic: TOPIC, partition: p }),
            intent.bs + intent.count - 1,
            `partition ${p}: lastSequence`,
          )
        }
      }
      // Every acknowledged record is there (each was checked above at its acked offset).
      let acked = 0
      for (const ack of acks.values()) {
        const intent = intents.get(ack.b)!
        for (let i = 0; i < intent.count; i++) {
          assert.ok(
            where.has(intent.from + i),
            `acknowledged record ${intent.from + i} (batch ${ack.b}) is lost`,
          )
        }
        acked += ack.count
      }
      // The batch the last life died on is all there or not at all.
      if (pending) assert.ok(pendingStored === 0 || pendingStored === pending.count, 'a torn batch')
      else assert.equal(pendingStored, 0)
      assert.equal(stored, acked + pendingStored, 'the log holds exactly the acknowledged batches')

      // ---- the rounds did real work
      const ackedPerRound = lives.map(({ round }) =>
        [...acks.values()].filter((a) => a.round === round && !a.recovered).reduce((n, a) => n + a.count, 0),
      )
      const productive = ackedPerRound.filter((n) => n > 0).length
      assert.ok(
        productive >= Math.ceil(ROUNDS * 0.8),
        `only ${productive} of ${ROUNDS} rounds acknowledged records: ${ackedPerRound}`,
      )
      assert.ok(retries > 0, 'some acknowledged batches were re-sent in the same life')
      const recovered = [...acks.values()].filter((a) => a.recovered)
      t.diagnostic(
        `${stored} records in ${acks.size} acknowledged batches over ${ROUNDS} lives ` +
          `(${productive}/${ROUNDS} lives acknowledged records; per life: ${ackedPerRound.join(' ')})`,
      )
      t.diagnostic(
        `${retries} in-life retries answered duplicate; ${recovered.length} batches re-sent after a kill ` +
          `(${recovered.filter((a) => a.duplicate).length} were already stored, ` +
          `${recovered.filter((a) => !a.duplicate).length} were not); last batch ` +
          `${pending ? `pending, ${pendingStored ? 'stored' : 'not stored'}` : 'acknowledged'}`,
      )
      t.diagnostic(
        `kill delays (ms): ${lives.map((l) => l.killAfterMs ?? 'self').join(' ')}; ` +
          `rounds ${Math.round(roundsMs)} ms, total ${Math.round(performance.now() - started)} ms`,
      )
    } finally {
      await log.close()
    }
  })
})

describe('durability and fencing contracts', () => {
  test('sync durability acknowledges an append only after its commit is flushed to disk', async () => {
    // EmbeddedLogOptions.durability: "`sync` (default): an append is acknowledged after its
    // commit is fsynced; nothing acknowledged is lost, even on power loss". Watch LMDB's own
    // flush notification for every commit and compare it with the acknowledgement.
    const log = await openEmbeddedLog({
      dataDir: tempDir(),
      durability: 'sync',
      cleanupIntervalMs: 0,
      // No backpressure wait: each append must queue its commit in the turn it is made.
      maxInflightBytes: 1024 ** 3,
    })
    try {
      await log.createTopic('d', { partitions: 2 })
      const env = log.storage.env as unknown as { flushed: PromiseLike<unknown> }
      // Every commit queues its writes as one block conditional on the commit sequence.
      const commits = log.storage.commits as unknown as {
        ifVersion: (key: string, version: number, callback: () => void) => Promise<boolean>
      }
      const ifVersion = commits.ifVersion.bind(commits)
      const flushed: boolean[] = []
      commits.ifVersion = (key, version, callback) => {
        const written = ifVersion(key, version, callback)
        const i = flushed.push(false) - 1
        // `env.flushed` resolves when the latest commit, the one just queued, is on disk.
        env.flushed.then(() => {
          flushed[i] = true
        })
        return written
      }
      const APPENDS = 400
      const early: number[] = []
      const acks: Promise<void>[] = []
      for (let i = 0; i < APPENDS; i++) {
        const append = log.appendBatch({ topic: 'd', partition: i % 2 }, [
          { value: Buffer.alloc(200_000, i) },
        ])
        await new Promise((r) => setImmediate(r)) // the append has queued its commit by now
        assert.equal(flushed.length, i + 1, 'one LMDB transaction per append')
        acks.push(
          append.then(async () => {
            // Let promise chains that hang off the same flush settle (they all run in the
            // same macrotask as the flush); a flush that has not happened yet stays pending.
            for (let hop = 0; hop < 20; hop++) await null
            if (!flushed[i]) early.push(i)
          }),
        )
      }
      await Promise.all(acks)
      assert.deepEqual(
        early,
        [],
        `${early.length} of ${APPENDS} appends were acknowledged before their commit was flushed to disk`,
      )
    } finally {
      await log.close()
    }
  })

  test('a new epoch from initProducerId fences the old one on every partition', async () => {
    // initProducerId: "returns its numeric id with a new epoch: batches from the previous epoch
    // are rejected from now on (zombie fencing)".
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('z', { partitions: 2 })
      const value = (s: string) => ({ value: Buffer.from(s) })
      const p0 = { topic: 'z', partition: 0 }
      const p1 = { topic: 'z', partition: 1 }
      const zombie = await log.initProducerId('writer')
      await log.appendBatch(p0, [value('a')], { ...zombie, baseSequence: 0 })
      await log.appendBatch(p1, [value('b')], { ...zombie, baseSequence: 0 })
      const successor = await log.initProducerId('writer')
      assert.equal(successor.epoch, zombie.epoch + 1)
      await log.appendBatch(p0, [value('c')], { ...successor, baseSequence: 0 })
      const fenced = (e: unknown) => isSluiceError(e, 'SLUICE_PRODUCER_FENCED')
      // Where the successor has written, the zombie is fenced...
      await assert.rejects(log.appendBatch(p0, [value('zombie')], { ...zombie, baseSequence: 1 }), fenced)
      // ...and where it has not written yet, too.
      await assert.rejects(log.appendBatch(p1, [value('zombie')], { ...zombie, baseSequence: 1 }), fenced)
      assert.equal(log.describeTopicSync('z').partitionDetails[1]!.endOffset, 1, 'the zombie wrote nothing')
    } finally {
      await log.close()
    }
  })
})
