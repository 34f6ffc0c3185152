/**
 * Local checkpoints on Kafka: a worker stopped with SIGTERM writes a checkpoint of each task's
 * state after its final commit; started again with the same --state-dir, it loads them and
 * replays nothing of the changelog topics (nobody wrote to them meanwhile) — and the output
 * is still exactly the embedded runner's.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  contents,
  countsTopic,
  kafkaForRun,
  lag,
  produce,
  referenceWindows,
  restores,
  startWorker,
  until,
  workerLogs,
} from './worker-harness.ts'

const EVENTS = Math.min(Number(process.env.SLUICE_KAFKA_EVENTS ?? 1_000_000), 200_000)
const kafkaLog = kafkaForRun()

test(`a restarted worker restores its tasks from local checkpoints and replays no changelog (${EVENTS.toLocaleString('en')} events)`, async () => {
  const kafka = kafkaLog()
  const expected = await referenceWindows(EVENTS)
  await produce(kafka, 0, EVENTS / 2)
  const first = startWorker('c1')
  await until(async () => (await lag(kafka)) === 0, 'the first half committed', 200_000)
  first.child.kill('SIGTERM')
  assert.equal(await first.exited, 0, `the first run stops cleanly\n${workerLogs()}`)
  assert.ok(restores(first).length > 0, `the first run reports its restores\n${workerLogs()}`)
  assert.equal(restores(first)[0]!.fromCheckpoints, 0, 'nothing to load at the very first start')

  await produce(kafka, EVENTS / 2, EVENTS)
  const second = startWorker('c1')
  await until(async () => (await lag(kafka)) === 0, 'every input committed', 200_000)
  const [restart] = restores(second)
  assert.ok(restart, `the restart reports its restore\n${workerLogs()}`)
  assert.equal(restart.tasks, 12, 'one worker builds all 6 + 6 tasks')
  assert.ok(restart.fromCheckpoints > 0, 'state entries came from the checkpoints')
  assert.equal(restart.replayed, 0, 'no changelog record was replayed')
  assert.deepEqual(await contents(kafka, countsTopic), expected)
  second.child.kill('SIGTERM')
  assert.equal(await second.exited, 0, `the second run stops cleanly\n${workerLogs()}`)
})
