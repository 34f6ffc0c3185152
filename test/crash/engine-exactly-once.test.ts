/**
 * Exactly-once of the engine under kill -9: a child process runs a windowed aggregation (plus
 * a stateless branch) over 1,000,000 input records and is SIGKILLed at random moments, at
 * least 10 times, restarting each time; then a last life runs to the end and stops cleanly.
 * Its outputs must equal a clean run's outputs exactly: the same records in the same order
 * in every partition, so no duplicates and nothing missing. Both also must equal what the
 * input says the results are (computed here, independently of the engine).
 *
 * A second, small test pins a bug the kill rounds found: after a restart following an input
 * partition read to its end, watermarks must be restored from the last commit.
 *
 * Run with `npm run test:crash`. Figures go to stderr.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  compile,
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  Pipeline,
  partitionForKey,
  topic,
  tumbling,
} from 'sluice'
import { tempDir } from '../helpers/temp-dir.ts'
import {
  BIG,
  buildPipeline,
  generateInput,
  INPUT,
  INPUT_RECORDS,
  OUTPUT,
  PARTITIONS,
  PIPELINE,
  STEP_MS,
  txn,
  WINDOW_MS,
} from './engine-pipeline.ts'

const CHILD = fileURLToPath(new URL('./engine-child.ts', import.meta.url))
/** Kill -9 rounds before the last life (at least 10). ENGINE_CRASH_ROUNDS overrides. */
const KILL_ROUNDS = Math.max(10, Number(process.env.ENGINE_CRASH_ROUNDS ?? 12))
const KILL_MIN_MS = 100
const KILL_MAX_MS = 700
const READY_TIMEOUT_MS = 30_000
const FINISH_TIMEOUT_MS = 120_000

const say = (msg: string) => process.stderr.write(`[engine-crash] ${msg}\n`)

/** Children still running: killed when the file ends, so a failed test leaves none behind. */
const children = new Set<ChildProcess>()
after(() => {
  for (const child of children) child.kill('SIGKILL')
})

interface Progress {
  ms: number
  in: number
  out: number
  lag: number
  wm: number
  open: number
  late: number
  dlq: number
  commits: number
}

interface Committed {
  consumed: number
  exhausted: number
  output: number
  big: number
}

interface Life {
  label: string
  code: number | null
  signal: NodeJS.Signals | null
  /** What earlier lives had committed when this one started. */
  committed: Committed | null
  /** The last progress line before the end. */
  last: Progress | null
  done: Progress | null
  killAfterMs: number | null
  stderr: string
}

/**
 * One life of the child. `killAfterMs`: SIGKILL it that long after `ready`; null: let it
 * finish (mode `finish`) and wait for its clean exit.
 */
function runLife(dataDir: string, label: string, killAfterMs: number | null, via: Via): Promise<Life> {
  return new Promise((resolve, reject) => {
    const mode = killAfterMs === null ? 'finish' : 'kill'
    const child: ChildProcess = spawn(process.execPath, [CHILD, dataDir, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ENGINE_CRASH_VIA: via },
    })
    children.add(child)
    const life: Life = {
      label,
      code: null,
      signal: null,
      committed: null,
      last: null,
      done: null,
      killAfterMs,
      stderr: '',
    }
    const timers: NodeJS.Timeout[] = []
    const kill = () => child.kill('SIGKILL')
    timers.push(setTimeout(kill, killAfterMs === null ? FINISH_TIMEOUT_MS : READY_TIMEOUT_MS))
    child.stderr!.on('data', (chunk: Buffer) => {
      life.stderr += chunk.toString()
    })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const space = line.indexOf(' ')
      const word = space < 0 ? line : line.slice(0, space)
      const json = space < 0 ? '' : line.slice(space + 1)
      if (word === 'ready') {
        life.committed = JSON.parse(json) as Committed
        if (killAfterMs !== null) timers.push(setTimeout(kill, killAfterMs))
      } else if (word === 'progress') {
        // A SIGKILL may cut the last line short: keep the previous one then.
        try {
          life.last = JSON.parse(json) as Progress
        } catch {}
      } else if (word === 'done') life.done = JSON.parse(json) as Progress
    })
    child.on('error', reject)
    // `close`, not `exit`: all of stdout has been read by then.
    child.on('close', (code, signal) => {
      children.delete(child)
      for (const t of timers) clearTimeout(t)
      life.code = code
      life.signal = signal
      resolve(life)
    })
  })
}

function describeLife(life: Life): string {
  const how = life.code === null ? `signal ${life.signal}` : `exit code ${life.code}`
  return `${life.label}: ended by ${how}, ready=${life.committed !== null}\n${life.stderr}`
}

function lifeFigures(life: Life): string {
  const c = life.committed
  const p = life.done ?? life.last
  const at = c
    ? `committed at start: input ${c.consumed} (${c.exhausted} partitions done), output ${c.output}, big ${c.big}`
    : 'not ready'
  const did = p
    ? `; this life: in ${p.in}, out ${p.out}, commits ${p.commits}, lag ${p.lag}, ran ${p.ms} ms`
    : '; no progress line'
  const kill = life.killAfterMs === null ? '' : `; killed ${life.killAfterMs} ms after ready`
  return `${life.label}: ${at}${did}${kill}`
}

/** One record as compared: key, timestamp and decoded value. */
type Row = string

function readTopic(log: EmbeddedLog, topic: string): Row[][] {
  const out: Row[][] = []
  const utf8 = new TextDecoder()
  for (const part of log.partitionsOf(topic)) {
    const tp = { topic, partition: part.partition }
    const rows: Row[] = []
    let offset = part.startOffset
    for (;;) {
      const batch = log.read(tp, offset, { maxRecords: 50_000 })
      if (batch.length === 0) break
      for (const r of batch) {
        const value = r.value === null ? null : JSON.parse(utf8.decode(r.value))
        const key = r.key === null ? null : utf8.decode(r.key)
        rows.push(JSON.stringify({ key, t: r.timestamp, value }))
      }
      offset = batch[batch.length - 1]!.offset + 1
    }
    out.push(rows)
  }
  return out
}

/** Counts of each row in `a` minus those in `b` (what `a` has too many of). */
function surplus(a: readonly Row[], b: readonly Row[]): Map<Row, number> {
  const counts = new Map<Row, number>()
  for (const r of a) counts.set(r, (counts.get(r) ?? 0) + 1)
  for (const r of b) {
    const n = counts.get(r)
    if (n === undefined) continue
    if (n === 1) counts.delete(r)
    else counts.set(r, n - 1)
  }
  return counts
}

function sample(m: Map<Row, number>): string {
  return [...m]
    .slice(0, 5)
    .map(([r, n]) => `${n}× ${r}`)
    .join('\n      ')
}

/**
 * Compares two topics record for record, in order per partition. Returns what differs (what
 * is extra, missing, duplicated or only reordered), or nothing when they are the same.
 */
function diffTopic(topic: string, actual: Row[][], expected: Row[][], what: string): string[] {
  if (actual.length !== expected.length) {
    return [`${topic}: ${actual.length} partitions vs ${expected.length} in ${what}`]
  }
  const problems: string[] = []
  for (let p = 0; p < expected.length; p++) {
    const a = actual[p]!
    const e = expected[p]!
    if (a.length === e.length && a.every((r, i) => r === e[i])) continue
    const extra = surplus(a, e)
    const missing = surplus(e, a)
    const dupes = surplus(a, [...new Set(a)])
    const n = (m: Map<Row, number>) => [...m.values()].reduce((x, y) => x + y, 0)
    let firstDiff = 0
    while (firstDiff < Math.min(a.length, e.length) && a[firstDiff] === e[firstDiff]) firstDiff++
    problems.push(
      `${topic} partition ${p} differs from ${what}: ${a.length} records vs ${e.length}; ` +
        `first difference at offset ${firstDiff}\n` +
        `  extra (${n(extra)}):\n      ${sample(extra)}\n` +
        `  missing (${n(missing)}):\n      ${sample(missing)}\n` +
        `  duplicated within the partition (${n(dupes)}):\n      ${sample(dupes)}\n` +
        `  at ${firstDiff}: actual ${a[firstDiff]} / expected ${e[firstDiff]}`,
    )
  }
  return problems
}

/**
 * What the outputs must be, from the input alone. Each partition's watermark ends at its
 * newest event time, the window task's watermark at the minimum over partitions: windows
 * ending at or before it have closed. They close in order of end, then key.
 */
function expectedOutputs(): { output: Row[][]; big: Row[][] } {
  const partitionOf = new Map<string, number>()
  const maxAt = new Array<number>(PARTITIONS).fill(Number.NEGATIVE_INFINITY)
  const windows = new Map<string, { user: string; start: number; count: number; sum: number }>()
  const big: Row[][] = Array.from({ length: PARTITIONS }, () => [])
  for (let i = 0; i < INPUT_RECORDS; i++) {
    const t = txn(i)
    let p = partitionOf.get(t.user)
    if (p === undefined) {
      p = partitionForKey(Buffer.from(t.user), PARTITIONS)
      partitionOf.set(t.user, p)
    }
    if (t.at > maxAt[p]!) maxAt[p] = t.at
    const start = t.at - (t.at % WINDOW_MS)
    const id = `${t.user}\0${start}`
    let w = windows.get(id)
    if (!w) {
      w = { user: t.user, start, count: 0, sum: 0 }
      windows.set(id, w)
    }
    w.count++
    w.sum += t.amount
    if (t.amount > 90) {
      const value = { user: t.user, amount: t.amount, at: t.at, big: true }
      big[p]!.push(JSON.stringify({ key: t.user, t: t.at, value }))
    }
  }
  const watermark = Math.min(...maxAt)
  const closed = [...windows.values()].filter((w) => w.start + WINDOW_MS <= watermark)
  closed.sort((a, b) => a.start - b.start || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0))
  const output: Row[][] = Array.from({ length: PARTITIONS }, () => [])
  for (const w of closed) {
    const end = w.start + WINDOW_MS
    const value = { key: w.user, start: w.start, end, value: { count: w.count, sum: w.sum } }
    output[partitionOf.get(w.user)!]!.push(JSON.stringify({ key: w.user, t: end - 1, value }))
  }
  return { output, big }
}

/** Data records (not watermark markers) in the internal repartition topic: each input once. */
function checkRepartition(log: EmbeddedLog, topic: string): { records: number; markers: number } {
  const seen = new Uint8Array(INPUT_RECORDS)
  const utf8 = new TextDecoder()
  let records = 0
  let markers = 0
  for (const part of log.partitionsOf(topic)) {
    const tp = { topic, partition: part.partition }
    let offset = part.startOffset
    for (;;) {
      const batch = log.read(tp, offset, { maxRecords: 50_000 })
      if (batch.length === 0) break
      for (const r of batch) {
        if (r.value === null) {
          markers++
          continue
        }
        const { at } = JSON.parse(utf8.decode(r.value)) as { at: number }
        const i = at / STEP_MS
        assert.equal(seen[i], 0, `${topic}: input record ${i} was repartitioned twice`)
        seen[i] = 1
        records++
      }
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return { records, markers }
}

interface RunResult {
  output: Row[][]
  big: Row[][]
  deadLetters: number
  repartition: { records: number; markers: number }
  inputEnd: number
}

async function readRun(dataDir: string): Promise<RunResult> {
  const log = await openEmbeddedLog({ dataDir, durability: 'interval', cleanupIntervalMs: 0 })
  try {
    const repartitionTopic = compile(buildPipeline()).repartitionTopics[0]!.topic
    const dlq = `${PIPELINE}-dlq`
    const input = (await log.describeTopic(INPUT)).partitionDetails
    return {
      output: readTopic(log, OUTPUT),
      big: readTopic(log, BIG),
      deadLetters: (await log.describeTopic(dlq)).partitionDetails.reduce((n, p) => n + p.endOffset, 0),
      repartition: checkRepartition(log, repartitionTopic),
      inputEnd: input.reduce((n, p) => n + p.endOffset, 0),
    }
  } finally {
    await log.close()
  }
}

const total = (rows: Row[][]) => rows.reduce((n, r) => n + r.length, 0)

/**
 * How the keyBy's records reach the window: the runner's in-memory exchange (its default) or
 * the repartition topic of the log (what the threaded and Kafka runners do).
 */
type Via = 'memory' | 'log'

describe('the engine killed with SIGKILL again and again', () => {
  for (const via of ['memory', 'log'] as const)
    test(`windowed aggregation over ${INPUT_RECORDS.toLocaleString('en')} records, keyBy through ${via === 'memory' ? 'the in-memory exchange' : 'the log'}, ${KILL_ROUNDS} kill -9 rounds: output equals a clean run's exactly`, {
      timeout: 180_000,
    }, async () => {
      const t0 = performance.now()
      const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`
      const root = tempDir('sluice-engine-crash-')
      const genDir = join(root, 'input')
      const cleanDir = join(root, 'clean')
      const killedDir = join(root, 'killed')

      // ---- the input, once; copied into both runs' data directories
      const genLog = await openEmbeddedLog({ dataDir: genDir, durability: 'interval', cleanupIntervalMs: 0 })
      await generateInput(genLog)
      await genLog.close()
      cpSync(genDir, cleanDir, { recursive: true })
      cpSync(genDir, killedDir, { recursive: true })
      say(`generated ${INPUT_RECORDS} input records in ${PARTITIONS} partitions (${elapsed()})`)

      // ---- the clean run, in parallel with the killed one (2 cores)
      const cleanRun = runLife(cleanDir, 'clean run', null, via)

      // ---- kill -9 rounds
      const lives: Life[] = []
      for (let round = 1; round <= KILL_ROUNDS; round++) {
        const after = KILL_MIN_MS + Math.floor(Math.random() * (KILL_MAX_MS - KILL_MIN_MS + 1))
        const life = await runLife(killedDir, `round ${String(round).padStart(2)}`, after, via)
        lives.push(life)
        say(lifeFigures(life))
        assert.ok(life.committed, `the child never became ready: ${describeLife(life)}`)
        assert.equal(life.signal, 'SIGKILL', `the child must only end by SIGKILL: ${describeLife(life)}`)
      }

      // ---- the last life: to the end of the input, then a clean stop
      const last = await runLife(killedDir, 'final    ', null, via)
      lives.push(last)
      say(lifeFigures(last))
      assert.equal(last.code, 0, `the final life must stop cleanly: ${describeLife(last)}`)
      assert.ok(last.done, `the final life printed no "done": ${describeLife(last)}`)
      // What is committed never goes back from one life to the next.
      for (let i = 1; i < lives.length; i++) {
        const [a, b] = [lives[i - 1]!.committed!, lives[i]!.committed!]
        assert.ok(
          b.consumed >= a.consumed && b.output >= a.output && b.big >= a.big,
          `committed progress went back: ${JSON.stringify(a)} → ${JSON.stringify(b)}`,
        )
      }

      const clean = await cleanRun
      say(lifeFigures(clean))
      assert.equal(clean.code, 0, `the clean run must stop cleanly: ${describeLife(clean)}`)
      assert.ok(clean.done)
      assert.equal(
        clean.done.in,
        2 * INPUT_RECORDS,
        'the clean run reads every input and repartitioned record once',
      )
      assert.equal(clean.done.late, 0, 'no late records in the clean run')
      assert.equal(last.done.late, 0, 'no late records in the final life')

      // ---- compare
      const [cleanResult, killedResult] = [await readRun(cleanDir), await readRun(killedDir)]
      const expected = expectedOutputs()
      say(
        `clean run: output ${total(cleanResult.output)}, big ${total(cleanResult.big)}, ` +
          `repartitioned ${cleanResult.repartition.records} (+${cleanResult.repartition.markers} markers)`,
      )
      say(
        `killed run: output ${total(killedResult.output)}, big ${total(killedResult.big)}, ` +
          `repartitioned ${killedResult.repartition.records} (+${killedResult.repartition.markers} markers)`,
      )
      say(`expected from the input: output ${total(expected.output)}, big ${total(expected.big)}`)
      for (const r of [cleanResult, killedResult]) {
        assert.equal(r.inputEnd, INPUT_RECORDS, 'the input topic is untouched')
        assert.equal(r.deadLetters, 0, 'no dead letters')
        if (via === 'log')
          assert.equal(
            r.repartition.records,
            INPUT_RECORDS,
            'every input record is repartitioned exactly once',
          )
        else
          assert.equal(
            r.repartition.records,
            0,
            'the in-memory exchange writes nothing to the repartition topic',
          )
      }
      const problems = [
        ...diffTopic(OUTPUT, cleanResult.output, expected.output, 'the results computed from the input'),
        ...diffTopic(BIG, cleanResult.big, expected.big, 'the results computed from the input'),
        ...diffTopic(OUTPUT, killedResult.output, cleanResult.output, 'the clean run'),
        ...diffTopic(BIG, killedResult.big, cleanResult.big, 'the clean run'),
      ]
      if (problems.length > 0) {
        const after = lives.filter((l) => (l.committed?.exhausted ?? 0) > 0).map((l) => l.label.trim())
        const hint =
          after.length === 0
            ? ''
            : `\nNote: ${after.join(', ')} started with an input partition already read to its end; ` +
              'missing windows then point at watermark restore (see the restart test below).'
        assert.fail(`the killed run's outputs are not exactly-once:\n${problems.join('\n')}${hint}`)
      }
      const killed = lives.filter((l) => l.signal === 'SIGKILL')
      const busy = killed.filter(
        (l) => (l.last?.lag ?? INPUT_RECORDS - (l.committed?.consumed ?? 0)) > 0,
      ).length
      say(
        `PASS: ${killed.length} kill -9 rounds (${busy} while input was pending) + final life; ` +
          `output ${total(killedResult.output)} and big ${total(killedResult.big)} records equal the clean run's, ` +
          `in order per partition (${elapsed()})`,
      )
    })

  /**
   * Once an input partition has been read to its end, its restarted upstream task never sees a
   * record again. Unless channel watermarks are committed and restored, it would sit at −∞,
   * send no marker, and hold the window task at −∞: no window would close again. A clean stop
   * and restart is enough to show it.
   */
  test('after a restart, windows still close when one input partition gets no new records', async () => {
    const run = async (restart: boolean) => {
      const dataDir = tempDir('sluice-engine-restart-')
      interface Ev {
        user: string
        at: number
      }
      const build = () => {
        const p = new Pipeline('restart-wm')
        p.from(topic<Ev>('in', { partitions: 2, timestamp: (e) => e.at }), { watermark: { idleAfter: '1h' } })
          .keyBy((e) => e.user)
          .window(tumbling({ size: 1000 }))
          .aggregate({ init: () => 0, add: (n: number) => n + 1 }, { name: 'n' })
          .to(topic('out'))
        return p
      }
      const ev = (user: string, at: number) => ({
        key: Buffer.from(user),
        value: Buffer.from(JSON.stringify({ user, at })),
        timestamp: at,
      })
      const settle = async (runner: EmbeddedRunner) => {
        let last = ''
        for (let stable = 0; stable < 20; ) {
          await new Promise((r) => setTimeout(r, 10))
          const s = runner.status()[0]!
          const now = `${s.lag}:${s.watermark}:${s.recordsOut}`
          stable = s.lag === 0 && now === last ? stable + 1 : 0
          last = now
        }
      }
      let log = await openEmbeddedLog({ dataDir, durability: 'interval', cleanupIntervalMs: 0 })
      await log.createTopic('in', { partitions: 2 })
      let runner = new EmbeddedRunner(log, [build()], { commitIntervalMs: 2 })
      await runner.start()
      let running = runner.run()
      // Partition 1 runs ahead to t = 9.9 s and ends; partition 0 reaches t = 1.9 s.
      await log.appendBatch(
        { topic: 'in', partition: 0 },
        Array.from({ length: 20 }, (_, i) => ev('a', i * 100)),
      )
      await log.appendBatch(
        { topic: 'in', partition: 1 },
        Array.from({ length: 100 }, (_, i) => ev('b', i * 100)),
      )
      await settle(runner)
      if (restart) {
        runner.stop()
        await running
        await log.close()
        log = await openEmbeddedLog({ dataDir, durability: 'interval', cleanupIntervalMs: 0 })
        runner = new EmbeddedRunner(log, [build()], { commitIntervalMs: 2 })
        await runner.start()
        running = runner.run()
      }
      // Partition 0 catches up to t = 9.9 s: the watermark is 9.9 s, windows before 9 s close.
      await log.appendBatch(
        { topic: 'in', partition: 0 },
        Array.from({ length: 80 }, (_, i) => ev('a', 2000 + i * 100)),
      )
      await settle(runner)
      runner.stop()
      await running
      const out = readTopic(log, 'out').flat()
      await log.close()
      return out.sort()
    }
    const straight = await run(false)
    assert.equal(straight.length, 18, 'without a restart: 9 closed windows per user')
    assert.deepEqual(await run(true), straight, 'with a restart in between: the same windows close')
  })
})
