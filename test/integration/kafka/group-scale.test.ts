/**
 * Scaling out without stopping: one worker runs a keyed windowed aggregation; mid-stream two
 * more join. Tasks move to them with their state (replayed from the changelog topics), and a
 * read_committed reader sees exactly the windows of the embedded runner over the same input.
 * Windows that span the moment of the move count records from before and after it, so state
 * that did not move, or moved twice, shows up as a wrong count.
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
  restores,
  rewinds,
  startWorker,
  stopCleanly,
  until,
  workers,
} from './worker-harness.ts'

const EVENTS = Math.min(Number(process.env.SLUICE_KAFKA_EVENTS ?? 1_000_000), 300_000)
const kafkaLog = kafkaForRun()

test(`scaling from 1 to 3 workers mid-stream loses nothing and duplicates nothing (${EVENTS.toLocaleString('en')} events)`, async (t) => {
  const kafka = kafkaLog()
  const expected = await referenceWindows(EVENTS)
  // Half the input first, so the first worker has built state when the others join.
  await produce(kafka, 0, EVENTS / 2)
  startWorker('s1')
  await until(async () => (await consumedClicks(kafka)) >= EVENTS / 4, 'a quarter of the clicks', 300_000)
  startWorker('s2')
  startWorker('s3')
  t.diagnostic(`scaled to 3 workers at ${await consumedClicks(kafka)} clicks committed`)
  await produce(kafka, EVENTS / 2, EVENTS)
  await until(async () => (await lag(kafka)) === 0, 'every input committed', 300_000)

  for (const id of ['s1', 's2', 's3']) {
    const w = workers.get(id)!
    t.diagnostic(
      `${id} restores: ${JSON.stringify(restores(w))}; commits failed by a rebalance, tasks rewound: ${JSON.stringify(rewinds(w))}`,
    )
  }
  // The tasks s1 kept never ran anywhere else (the assignment is sticky): whenever s1 had to
  // rebuild them, its local checkpoints held all their state.
  for (const r of restores(workers.get('s1')!).slice(1)) {
    assert.equal(r.replayed, 0, `s1 rebuilt its kept tasks from checkpoints alone: ${JSON.stringify(r)}`)
  }
  const actual = await contents(kafka, countsTopic)
  assert.equal(actual.length - new Set(actual).size, 0, 'no window is committed twice')
  assert.deepEqual(actual, expected)
  await stopCleanly(['s1', 's2', 's3'])
})
