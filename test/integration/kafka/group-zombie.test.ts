/**
 * A zombie under incremental rebalancing: one of two `sluice run` workers is frozen (SIGSTOP)
 * past its session timeout while input keeps arriving, so the group hands its tasks to the
 * other; then it wakes (SIGCONT) holding work, maybe a transaction, of a generation that is
 * over. Its commits must be refused — fenced by the group generation, not retried in a new
 * one, since it no longer held those tasks throughout — and it must rejoin and share the tasks
 * again. A read_committed reader then sees exactly the embedded runner's windows.
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
  stopCleanly,
  until,
  workerLogs,
  workers,
} from './worker-harness.ts'

const EVENTS = 300_000
const FIRST = 60_000
const CHUNK = 2_000
const kafkaLog = kafkaForRun()

test('a worker frozen past its session timeout wakes as a zombie: fenced, it rejoins, and the output is exactly once', async (t) => {
  const kafka = kafkaLog()
  const expected = await referenceWindows(EVENTS)
  await produce(kafka, 0, FIRST)
  startWorker('z1')
  startWorker('z2')
  const z1 = workers.get('z1')!
  const z2 = workers.get('z2')!
  await until(
    async () => restores(z1).length > 0 && restores(z2).length > 0,
    'both workers to hold tasks',
    120_000,
  )
  await until(async () => (await lag(kafka)) < FIRST / 2, 'both at work', 120_000)

  let fed = FIRST
  const feed = async (ms: number) => {
    const until = Date.now() + ms
    while (Date.now() < until && fed < EVENTS) {
      const to = Math.min(EVENTS, fed + CHUNK)
      await produce(kafka, fed, to)
      fed = to
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  // Frozen mid-stream, with work in hand: the group drops it after its 10 s session timeout.
  z1.child.kill('SIGSTOP')
  const before = restores(z2).length
  await feed(2_000)
  await until(
    async () => {
      await feed(200)
      return restores(z2).length > before
    },
    "z2 to take z1's tasks over",
    60_000,
  )
  t.diagnostic(`z2 took over after z1 froze; ${fed} clicks fed`)
  await feed(1_000)
  z1.child.kill('SIGCONT')
  // z1 finds its generation over; it rejoins and the group shares the tasks again.
  const z1Before = restores(z1).length
  await until(
    async () => {
      await feed(200)
      return restores(z1).length > z1Before
    },
    'z1 to rejoin and get tasks back',
    60_000,
  )
  t.diagnostic(`z1 rejoined; ${fed} clicks fed`)
  await produce(kafka, fed, EVENTS)
  await until(async () => (await lag(kafka)) === 0, 'every input committed', 300_000)
  const actual = await contents(kafka, countsTopic)
  assert.equal(actual.length - new Set(actual).size, 0, `no window is committed twice\n${workerLogs()}`)
  assert.deepEqual(actual, expected)
  await stopCleanly(['z1', 'z2'])
})
