/**
 * The broker restarts while two workers run a keyed windowed aggregation. Whatever was in
 * flight when it went away may or may not have committed; the workers rebuild their tasks
 * from what did (changelogs and group offsets) once it is back, and a read_committed reader
 * sees exactly the windows of the embedded runner over the same input.
 *
 * Restarts the broker of scripts/kafka.sh (keeping its data), so it runs only against that one.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  consumedClicks,
  contents,
  countsTopic,
  kafkaForRun,
  lag,
  produce,
  referenceWindows,
  startWorker,
  until,
  workerLogs,
  workers,
} from './worker-harness.ts'

const EVENTS = Math.min(Number(process.env.SLUICE_KAFKA_EVENTS ?? 1_000_000), 300_000)
const script = fileURLToPath(new URL('../../../scripts/kafka.sh', import.meta.url))
const ours = (() => {
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'ignore' })
    return process.env.KAFKA_BROKERS === undefined
  } catch {
    return false
  }
})()
const kafkaLog = kafkaForRun()

/** A check that counts as "not yet" while the broker is away. */
const tolerant = (check: () => Promise<boolean>) => async () => {
  try {
    return await check()
  } catch {
    return false
  }
}

test(`a broker restart mid-stream: the workers resume and the output is still exactly once (${EVENTS.toLocaleString('en')} events)`, {
  skip: ours ? false : 'needs the broker of scripts/kafka.sh (it restarts it)',
}, async (t) => {
  const kafka = kafkaLog()
  const expected = await referenceWindows(EVENTS)
  await produce(kafka, 0, EVENTS)
  for (const id of ['r1', 'r2']) startWorker(id)
  await until(async () => (await consumedClicks(kafka)) >= EVENTS / 3, 'a third of the clicks', 300_000)
  const at = await consumedClicks(kafka)
  execFileSync('bash', [script, 'stop'], { stdio: 'ignore' })
  execFileSync('bash', [script, 'start'], { stdio: 'ignore', env: { ...process.env, KAFKA_KEEP_DATA: '1' } })
  t.diagnostic(`restarted the broker at ${at} clicks committed`)
  await until(
    tolerant(async () => (await lag(kafka)) === 0),
    'every input committed',
    300_000,
  )
  for (const id of ['r1', 'r2']) {
    assert.equal(workers.get(id)!.child.exitCode, null, `worker ${id} survived the restart\n${workerLogs()}`)
  }
  const actual = await contents(kafka, countsTopic)
  assert.equal(actual.length - new Set(actual).size, 0, 'no window is committed twice')
  assert.deepEqual(actual, expected)
  for (const id of ['r1', 'r2']) workers.get(id)!.child.kill('SIGTERM')
  for (const id of ['r1', 'r2'])
    assert.equal(
      await workers.get(id)!.exited,
      0,
      `worker ${id} stops cleanly
${workerLogs()}`,
    )
})
