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
import { test } from 'node:test'
import {
  consumedClicks,
  contents,
  countsTopic,
  kafkaForRun,
  lag,
  produce,
  referenceWindows,
  startWorker,
  stopCleanly,
  until,
  workers,
} from './worker-harness.ts'

const EVENTS = Number(process.env.SLUICE_KAFKA_EVENTS ?? 1_000_000)
const kafkaLog = kafkaForRun()

test(`three workers, one killed mid-stream, a fourth joining: the output is exactly once (${EVENTS.toLocaleString('en')} events)`, async (t) => {
  const kafka = kafkaLog()
  const expected = await referenceWindows(EVENTS)
  assert.ok(expected.length > 1_000, `the reference has windows (${expected.length})`)

  await produce(kafka, 0, EVENTS)
  const started = Date.now()
  for (const id of ['w1', 'w2', 'w3']) startWorker(id)
  await until(async () => (await consumedClicks(kafka)) >= EVENTS / 3, 'a third of the clicks', 150_000)
  workers.get('w2')!.child.kill('SIGKILL')
  t.diagnostic(`killed w2 after ${Date.now() - started} ms, ${await consumedClicks(kafka)} clicks committed`)
  await until(
    async () => (await consumedClicks(kafka)) >= (EVENTS * 2) / 3,
    'two thirds of the clicks',
    300_000,
  )
  startWorker('w4')
  t.diagnostic(`started w4 after ${Date.now() - started} ms`)
  await until(async () => (await lag(kafka)) === 0, 'every input committed', 200_000)
  t.diagnostic(`all input committed after ${Date.now() - started} ms`)

  const actual = await contents(kafka, countsTopic)
  assert.equal(actual.length - new Set(actual).size, 0, 'no window is committed twice')
  assert.equal(actual.length, expected.length, 'as many windows as the reference')
  assert.deepEqual(actual, expected)

  await stopCleanly(['w1', 'w3', 'w4'])
})
