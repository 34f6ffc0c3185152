/**
 * What the Kafka worker tests share: a run id that names this process's topics and group,
 * the input, `sluice run` workers as child processes, and read_committed views of progress
 * and output. Import this module first in a test file: it sets SLUICE_TEST_RUN before the
 * pipeline fixture is imported.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, before } from 'node:test'
import { fileURLToPath } from 'node:url'
import { compile, EmbeddedRunner, type Log, openEmbeddedLog } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import { tempDir } from '../../helpers/temp-dir.ts'

export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
export const PARTITIONS = 6
const USERS = 97
export const run = `${Date.now().toString(36)}${process.pid}`
process.env.SLUICE_TEST_RUN = run
const fixture = fileURLToPath(new URL('./fixtures/windowed.ts', import.meta.url))
const { windowed, clicksTopic, countsTopic } = await import('./fixtures/windowed.ts')

export { clicksTopic, countsTopic, windowed }

const group = windowed.name
/** The workers' --state-dir: shared, as by workers on one machine. */
export const stateDir = tempDir()
const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))

export interface Worker {
  child: ChildProcess
  stderr: string[]
  exited: Promise<number | null>
}
export const workers = new Map<string, Worker>()

function clickRecords(from: number, to: number) {
  const out: Array<{ key: Buffer; value: Buffer }> = []
  for (let j = from; j < to; j++) {
    const user = `u${j % USERS}`
    out.push({ key: Buffer.from(user), value: Buffer.from(JSON.stringify({ user, at: j * 2 })) })
  }
  return out
}

/** Appends clicks `from` … `to` − 1 (user = j mod 97, event time 2j ms). */
export async function produce(log: Log, from: number, to: number): Promise<void> {
  const producer = log.producer()
  for (let i = from; i < to; i += 50_000)
    await producer.send(clicksTopic, clickRecords(i, Math.min(to, i + 50_000)))
  await producer.close()
}

/** Every committed record of a topic as `key|value`, sorted: a multiset to compare runs with. */
export async function contents(log: Log, topic: string): Promise<string[]> {
  const out: string[] = []
  const { partitionDetails } = await log.describeTopic(topic)
  for (const { partition } of partitionDetails) {
    const tp = { topic, partition }
    const end = await log.resolveOffset(tp, 'latest')
    let offset = await log.resolveOffset(tp, 'earliest')
    while (offset < end) {
      const batch = await log.fetch(tp, offset, { maxRecords: 50_000 })
      if (batch.length === 0) break
      for (const r of batch) {
        out.push(`${Buffer.from(r.key ?? []).toString()}|${Buffer.from(r.value ?? []).toString()}`)
      }
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out.sort()
}

/** Records of the group's inputs (clicks and the repartition topic) not yet committed. */
export async function lag(log: Log): Promise<number> {
  let behind = 0
  for (const topic of [clicksTopic, ...compile(windowed).repartitionTopics.map((r) => r.topic)]) {
    if (!(await log.hasTopic(topic))) return Number.POSITIVE_INFINITY
    const committed = await log.committedOffsets(group, topic)
    for (const { partition } of (await log.describeTopic(topic)).partitionDetails) {
      const end = await log.resolveOffset({ topic, partition }, 'latest')
      behind += Math.max(0, end - (committed.get(partition) ?? 0))
    }
  }
  return behind
}

export async function consumedClicks(log: Log): Promise<number> {
  let n = 0
  for (const o of (await log.committedOffsets(group, clicksTopic)).values()) n += o
  return n
}

export async function until(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}\n${workerLogs()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

export function workerLogs(): string {
  return [...workers]
    .map(([id, w]) => {
      const lines = w.stderr.join('').split('\n')
      const status = lines.filter((l) => l.includes('rec/s')).at(-1) ?? '(no status line yet)'
      const rest = lines
        .filter((l) => !l.includes('rec/s'))
        .join('\n')
        .slice(-3_000)
      return `--- worker ${id} (exit ${w.child.exitCode ?? w.child.signalCode ?? 'running'}):\n${rest}\nlast status: ${status}`
    })
    .join('\n')
}

/** Starts `sluice run fixtures/windowed.ts --backend kafka://… --instance-id <id> --state-dir …`. */
export function startWorker(id: string): Worker {
  const child = spawn(
    process.execPath,
    [
      cli,
      'run',
      fixture,
      '--backend',
      `kafka://${brokers.join(',')}`,
      '--instance-id',
      id,
      '--state-dir',
      stateDir,
    ],
    { env: { ...process.env, SLUICE_TEST_RUN: run }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const stderr: string[] = []
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const worker = { child, stderr, exited }
  workers.set(id, worker)
  return worker
}

export interface RestoreLine {
  tasks: number
  fromCheckpoints: number
  replayed: number
}

/** The restore lines a worker printed ("restored 6 tasks in 40 ms: 1,234 entries from …"). */
/** Tasks a worker sent back to the last commit from memory after a rebalance failed a commit. */
export function rewinds(worker: Worker): number[] {
  return [...worker.stderr.join('').matchAll(/a rebalance failed a commit; (\d+) tasks? went back/g)].map(
    (m) => Number(m[1]),
  )
}

export function restores(worker: Worker): RestoreLine[] {
  const n = (s: string) => Number(s.replaceAll(',', ''))
  return [
    ...worker.stderr
      .join('')
      .matchAll(
        /restored ([\d,]+) tasks? in \d+ ms: ([\d,]+) entries from local checkpoints, ([\d,]+) changelog records/g,
      ),
  ].map((m) => ({ tasks: n(m[1]!), fromCheckpoints: n(m[2]!), replayed: n(m[3]!) }))
}

/** SIGTERMs these workers and asserts each stops cleanly (exit 0), showing every log if not. */
export async function stopCleanly(ids: readonly string[]): Promise<void> {
  for (const id of ids) workers.get(id)!.child.kill('SIGTERM')
  for (const id of ids)
    assert.equal(await workers.get(id)!.exited, 0, `worker ${id} stops cleanly\n${workerLogs()}`)
}

export async function stopWorkers(): Promise<void> {
  for (const { child, exited } of workers.values()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
}

/** The windows the same pipeline commits from the same input on the embedded log. */
export async function referenceWindows(events: number): Promise<string[]> {
  const embedded = await openEmbeddedLog({ dataDir: tempDir() })
  await embedded.createTopic(clicksTopic, { partitions: PARTITIONS })
  await produce(embedded, 0, events)
  const reference = new EmbeddedRunner(embedded, [windowed])
  await reference.start()
  const running = reference.run()
  await until(async () => (await lag(embedded)) === 0, 'the embedded reference run', 300_000)
  reference.stop()
  await running
  const expected = await contents(embedded, countsTopic)
  await embedded.close()
  return expected
}

/** Deletes every topic of this run (sources, sinks, repartition, changelogs, dead letters). */
export async function deleteRunTopics(log: Log): Promise<void> {
  for (const topic of await log.listTopics())
    if (topic.includes(run)) await log.deleteTopic(topic).catch(() => {})
}

/**
 * Opens the Kafka log of a worker test file and creates the input topic before its tests;
 * afterwards kills what is left of the workers and deletes the run's topics. Returns a getter:
 * the log exists once the `before` hook has run.
 */
export function kafkaForRun(): () => Log {
  let kafka: Log | null = null
  before(async () => {
    kafka = await openKafkaLog({ brokers })
    await kafka.createTopic(clicksTopic, { partitions: PARTITIONS })
  })
  after(async () => {
    await stopWorkers()
    if (!kafka) return
    await deleteRunTopics(kafka)
    await kafka.close()
  })
  return () => {
    if (!kafka) throw new Error('the Kafka log opens in a before hook: use it inside tests')
    return kafka
  }
}
