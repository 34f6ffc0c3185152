/**
 * `sluice run --backend kafka://…` workers against a real broker: the same pipeline file as on
 * the embedded log, scaled out over worker processes, exactly-once.
 *
 * Three workers run a keyed windowed aggregation; one is killed with SIGKILL mid-stream and
 * later a fourth joins. A read_committed reader of the output must then see exactly the
 * windows the embedded runner computes from the same input: no duplicates, nothing missing.
 *
 * SLUICE_KAFKA_EVENTS sets the input size (default 1,000,000).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { compile, EmbeddedRunner, type Log, openEmbeddedLog } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import { tempDir } from '../../helpers/temp-dir.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const EVENTS = Number(process.env.SLUICE_KAFKA_EVENTS ?? 1_000_000)
const PARTITIONS = 6
const USERS = 97
const run = `${Date.now().toString(36)}${process.pid}`
process.env.SLUICE_TEST_RUN = run
const fixture = fileURLToPath(new URL('./fixtures/windowed.ts', import.meta.url))
const { windowed, clicksTopic, countsTopic } = await import('./fixtures/windowed.ts')
const group = windowed.name
const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))

let kafka: Log
const workers = new Map<string, { child: ChildProcess; stderr: string[]; exited: Promise<number | null> }>()

function clickRecords(from: number, to: number) {
  const out: Array<{ key: Buffer; value: Buffer }> = []
  for (let j = from; j < to; j++) {
    const user = `u${j % USERS}`
    out.push({ key: Buffer.from(user), value: Buffer.from(JSON.stringify({ user, at: j * 2 })) })
  }
  return out
}

async function produce(log: Log): Promise<void> {
  const producer = log.producer()
  for (let i = 0; i < EVENTS; i += 50_000)
    await producer.send(clicksTopic, clickRecords(i, Math.min(EVENTS, i + 50_000)))
  await producer.close()
}

/** Every committed record of a topic as `key|value`, sorted: a multiset to compare runs with. */
async function contents(log: Log, topic: string): Promise<string[]> {
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
async function lag(log: Log): Promise<number> {
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

async function consumedClicks(log: Log): Promise<number> {
  let n = 0
  for (const o of (await log.committedOffsets(group, clicksTopic)).values()) n += o
  return n
}

async function until(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}\n${workerLogs()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

function workerLogs(): string {
  return [...workers].map(([id, w]) => `--- worker ${id}:\n${w.stderr.join('').slice(-2_000)}`).join('\n')
}

function startWorker(id: string): void {
  const child = spawn(
    process.execPath,
    [cli, 'run', fixture, '--backend', `kafka://${brokers.join(',')}`, '--instance-id', id],
    { env: { ...process.env, SLUICE_TEST_RUN: run }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const stderr: string[] = []
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  workers.set(id, { child, stderr, exited })
}

before(async () => {
  kafka = await openKafkaLog({ brokers })
  await kafka.createTopic(clicksTopic, { partitions: PARTITIONS })
})

after(async () => {
  for (const { child, exited } of workers.values()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  for (const topic of await kafka.listTopics())
    if (topic.includes(run)) await kafka.deleteTopic(topic).catch(() => {})
  await kafka.close()
})

describe('sluice run workers on Kafka', () => {
  test(`three workers, one killed mid-stream, a fourth joining: the output is exactly once (${EVENTS.toLocaleString('en')} events)`, async (t) => {
    // The reference: the same pipeline over the same input on the embedded log.
    const embedded = await openEmbeddedLog({ dataDir: tempDir() })
    await embedded.createTopic(clicksTopic, { partitions: PARTITIONS })
    await produce(embedded)
    const reference = new EmbeddedRunner(embedded, [windowed])
    await reference.start()
    const running = reference.run()
    await until(async () => (await lag(embedded)) === 0, 'the embedded reference run', 300_000)
    reference.stop()
    await running
    const expected = await contents(embedded, countsTopic)
    await embedded.close()
    assert.ok(expected.length > 1_000, `the reference has windows (${expected.length})`)

    await produce(kafka)
    const started = Date.now()
    for (const id of ['w1', 'w2', 'w3']) startWorker(id)
    await until(async () => (await consumedClicks(kafka)) >= EVENTS / 3, 'a third of the clicks', 300_000)
    workers.get('w2')!.child.kill('SIGKILL')
    t.diagnostic(
      `killed w2 after ${Date.now() - started} ms, ${await consumedClicks(kafka)} clicks committed`,
    )
    await until(
      async () => (await consumedClicks(kafka)) >= (EVENTS * 2) / 3,
      'two thirds of the clicks',
      300_000,
    )
    startWorker('w4')
    t.diagnostic(`started w4 after ${Date.now() - started} ms`)
    await until(async () => (await lag(kafka)) === 0, 'every input committed', 300_000)
    t.diagnostic(`all input committed after ${Date.now() - started} ms`)

    const actual = await contents(kafka, countsTopic)
    const duplicates = actual.length - new Set(actual).size
    assert.equal(duplicates, 0, 'no window is committed twice')
    assert.equal(actual.length, expected.length, 'as many windows as the reference')
    assert.deepEqual(actual, expected)

    for (const id of ['w1', 'w3', 'w4']) workers.get(id)!.child.kill('SIGTERM')
    for (const id of ['w1', 'w3', 'w4'])
      assert.equal(await workers.get(id)!.exited, 0, `worker ${id} stops cleanly`)
  })
})
