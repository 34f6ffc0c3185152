/**
 * The consumer-group runner on the embedded log: several workers in one process, as on Kafka
 * several processes. A keyed windowed pipeline (keyBy → repartition → tumbling count) must
 * commit exactly the windows the embedded runner commits — with one worker, with two sharing
 * the tasks, and when a worker leaves mid-stream and the other restores its tasks' state
 * from the changelog topics.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  compile,
  type EmbeddedLog,
  EmbeddedRunner,
  GroupRunner,
  openEmbeddedLog,
  type RestoreReport,
} from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'
import { type Click, windowed } from './fixtures/threaded-pipelines.ts'

const CLICKS = 20_000
const USERS = 97
const json = (v: unknown) => Buffer.from(JSON.stringify(v))

const live = new Map<{ stop(): void }, Promise<void>>()
after(async () => {
  for (const [runner, running] of live) {
    runner.stop()
    await running.catch(() => {})
  }
})

async function produceClicks(log: EmbeddedLog, from: number, to: number): Promise<void> {
  if (!(await log.hasTopic('clicks'))) await log.createTopic('clicks', { partitions: 4 })
  const producer = log.producer()
  const chunk: Array<{ key: Buffer; value: Buffer }> = []
  for (let j = from; j < to; j++) {
    const click: Click = { user: `u${j % USERS}`, at: j * 2 }
    chunk.push({ key: Buffer.from(click.user), value: json(click) })
  }
  await producer.send('clicks', chunk)
  await producer.close()
}

function contents(log: EmbeddedLog, name: string): string[] {
  const out: string[] = []
  for (const p of log.partitionsOf(name)) {
    let offset = p.startOffset
    for (;;) {
      const batch = log.read(p.tp, offset)
      if (batch.length === 0) break
      for (const r of batch)
        out.push(`${r.key ? Buffer.from(r.key).toString() : ''}|${Buffer.from(r.value ?? []).toString()}`)
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out.sort()
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function launch(runner: GroupRunner | EmbeddedRunner): { stop(): Promise<void> } {
  const running = runner.run()
  live.set(runner, running)
  return {
    async stop() {
      runner.stop()
      await running
      live.delete(runner)
    },
  }
}

/** Every input committed by the pipeline's group, and nothing new for a moment. */
/**
 * Every input of the pipeline — the clicks and the repartition topic between its two stages —
 * committed to its end: every window the input closes is out. (Waiting for the clicks alone
 * raced the second stage on a busy machine.)
 */
async function settled(log: EmbeddedLog): Promise<void> {
  const inputs = ['clicks', ...compile(windowed).repartitionTopics.map((r) => r.topic)]
  await until(async () => {
    for (const topic of inputs) {
      if (!(await log.hasTopic(topic))) return false
      const committed = await log.committedOffsets('windowed', topic)
      for (const p of log.partitionsOf(topic)) {
        if ((committed.get(p.partition) ?? 0) < p.highWatermark) return false
      }
    }
    return true
  }, 'every input committed to its end')
}

let reference: string[] = []

describe('the consumer-group runner on the embedded log', () => {
  test('one worker commits exactly the windows of the embedded runner', async () => {
    const a = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(a, 0, CLICKS)
    const embedded = new EmbeddedRunner(a, [windowed])
    await embedded.start()
    const e = launch(embedded)
    await settled(a)
    // The embedded runner answers queries the same way as the worker below.
    assert.equal(embedded.store('per-second').range().length, USERS)
    await e.stop()
    reference = contents(a, 'click-counts')
    await a.close()
    assert.ok(reference.length > 1_000, `the reference has windows (${reference.length})`)

    const b = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(b, 0, CLICKS)
    const worker = new GroupRunner(b, [windowed])
    await worker.start()
    const w = launch(worker)
    await settled(b)
    assert.equal(worker.status()[0]!.tasks, 8, 'one worker owns all 4 + 4 tasks')
    // Queryable state: the open windows (the last second of each user) read by key and range.
    const open = worker.store('per-second').range()
    assert.equal(open.length, USERS, 'every user has its last window open')
    const [user, windows] = open[0]!
    assert.deepEqual(worker.store('per-second').get(user), windows)
    assert.equal(
      (windows as Array<{ end: number }>)[0]!.end,
      40_000,
      'the window the watermark has not passed',
    )
    await w.stop()
    assert.deepEqual(contents(b, 'click-counts'), reference)
    // State went to one compacted changelog topic per store, one partition per task.
    const changelog = await b.describeTopic('windowed.per-second-changelog')
    assert.equal(changelog.partitionDetails.length, 4)
    assert.equal(changelog.compact, true)
    await b.close()
  })

  test('two workers share the tasks; when one leaves, the other restores its state and the output is exact', async () => {
    assert.ok(reference.length > 0, 'runs after the first test')
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(log, 0, CLICKS / 2)
    const one = new GroupRunner(log, [windowed], { instanceId: 'one' })
    const two = new GroupRunner(log, [windowed], { instanceId: 'two' })
    await one.start()
    await two.start()
    const r1 = launch(one)
    const r2 = launch(two)
    await until(() => one.status()[0]!.tasks > 0 && two.status()[0]!.tasks > 0, 'both workers to own tasks')
    assert.equal(one.status()[0]!.tasks + two.status()[0]!.tasks, 8)
    await until(() => two.status()[0]!.commits > 0 && one.status()[0]!.commits > 0, 'both to commit')
    // Worker two leaves after its final commit; worker one takes every task over.
    await r2.stop()
    await until(() => one.status()[0]!.tasks === 8, 'worker one to own all tasks')
    assert.ok(one.restoredRecords > 0, 'worker one replayed the changelogs of the tasks it took over')
    await produceClicks(log, CLICKS / 2, CLICKS)
    await settled(log)
    await r1.stop()
    assert.deepEqual(contents(log, 'click-counts'), reference)
    await log.close()
  })

  test('when a worker joins, the tasks that stay put keep running: same task, same state, no restore', async () => {
    assert.ok(reference.length > 0, 'runs after the first test')
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(log, 0, CLICKS / 2)
    const one = new GroupRunner(log, [windowed], { instanceId: 'one' })
    await one.start()
    const r1 = launch(one)
    await until(
      () => one.status()[0]!.tasks === 8 && one.status()[0]!.commits > 0,
      'worker one to run all tasks',
    )
    const before = new Set(one.tasks)
    const restored = one.restoredRecords
    const two = new GroupRunner(log, [windowed], { instanceId: 'two' })
    await two.start()
    const r2 = launch(two)
    await until(() => two.status()[0]!.tasks === 4, 'worker two to take half the tasks')
    await produceClicks(log, CLICKS / 2, CLICKS)
    await settled(log)
    // The four tasks worker one kept are the very objects it had: not rebuilt, not restored.
    assert.equal(one.tasks.length, 4)
    assert.ok(
      one.tasks.every((t) => before.has(t)),
      'the tasks that stayed are the same Task instances',
    )
    assert.equal(one.restoredRecords, restored, 'worker one replayed nothing when two joined')
    await r2.stop()
    await r1.stop()
    assert.deepEqual(contents(log, 'click-counts'), reference)
    await log.close()
  })

  test('a worker with a state dir restores from its checkpoints and replays only the changelog written since', async () => {
    assert.ok(reference.length > 0, 'runs after the first test')
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const stateDir = tempDir()
    // A runs a third of the input and stops: its final checkpoints land in the state dir.
    await produceClicks(log, 0, 6_000)
    const a = new GroupRunner(log, [windowed], { instanceId: 'a', stateDir })
    await a.start()
    const ra = launch(a)
    await settled(log)
    await ra.stop()
    const afterA = await changelogSize(log)
    // B, without a state dir, runs the next third: changelog records A's checkpoints lack.
    await produceClicks(log, 6_000, 13_000)
    const b = new GroupRunner(log, [windowed], { instanceId: 'b' })
    await b.start()
    const rb = launch(b)
    await settled(log)
    await rb.stop()
    assert.equal(b.checkpointEntries, 0, 'B has no checkpoints')
    assert.ok(b.restoredRecords > 0, 'B replayed what A wrote')
    const afterB = await changelogSize(log)
    // C takes A's state dir: checkpoints first, then only the records B wrote.
    await produceClicks(log, 13_000, CLICKS)
    const reports: RestoreReport[] = []
    const c = new GroupRunner(log, [windowed], {
      instanceId: 'c',
      stateDir,
      onRestore: (r) => reports.push(r),
    })
    await c.start()
    const rc = launch(c)
    await settled(log)
    await rc.stop()
    assert.ok(c.checkpointEntries > 0, 'C loaded state from the checkpoints')
    assert.ok(c.restoredRecords > 0, 'C replayed what B wrote after the checkpoints')
    assert.ok(
      c.restoredRecords <= afterB - afterA,
      `C replayed only B's records (${c.restoredRecords} of ${afterB}; B wrote ${afterB - afterA})`,
    )
    assert.deepEqual(
      [reports.reduce((n, r) => n + r.tasks, 0), reports.reduce((n, r) => n + r.fromCheckpoints, 0)],
      [8, c.checkpointEntries],
      'the restore reports count every task and every checkpoint entry',
    )
    assert.deepEqual(contents(log, 'click-counts'), reference)
    await log.close()
  })

  test('checkpoints that do not fit the changelog (a new log, same state dir) are not used', async () => {
    assert.ok(reference.length > 0, 'runs after the first test')
    const stateDir = tempDir()
    const first = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(first, 0, CLICKS / 2)
    const a = new GroupRunner(first, [windowed], { stateDir })
    await a.start()
    const ra = launch(a)
    await settled(first)
    await ra.stop()
    await first.close()
    // A fresh log: its changelogs are empty, so A's checkpoint positions lie past their ends.
    // Used anyway, they would add A's counts to this run's windows.
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(log, 0, CLICKS)
    const reports: RestoreReport[] = []
    const b = new GroupRunner(log, [windowed], { stateDir, onRestore: (r) => reports.push(r) })
    await b.start()
    const rb = launch(b)
    await settled(log)
    await rb.stop()
    // (A later rebuild may load checkpoints B wrote itself: those fit.)
    assert.equal(reports[0]?.fromCheckpoints, 0, 'no checkpoint was loaded at the first restore')
    assert.deepEqual(contents(log, 'click-counts'), reference)
    await log.close()
  })
})

/** Records in every partition of the pipeline's changelog topics. */
async function changelogSize(log: EmbeddedLog): Promise<number> {
  let n = 0
  for (const topic of await log.listTopics()) {
    if (!topic.endsWith('-changelog')) continue
    for (const p of log.partitionsOf(topic)) n += p.highWatermark - p.startOffset
  }
  return n
}
