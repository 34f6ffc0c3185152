/**
 * The threaded runner against the in-thread one: the same keyed windowed pipeline over the
 * same input must commit exactly the same windows, also across a stop and restart; a failure
 * in a worker (the `stop` policy, or a crash) must fail the run with nothing of it committed.
 * The pipelines live in fixtures/threaded-pipelines.ts, which the workers import by path.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  compile,
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  Pipeline,
  type PipelineStatus,
  ThreadedRunner,
  topic,
} from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'
import { type Click, crashing, strict, windowed } from './fixtures/threaded-pipelines.ts'

const MODULE = new URL('./fixtures/threaded-pipelines.ts', import.meta.url)
const CLICKS = 50_000
const USERS = 97
const json = (v: unknown) => Buffer.from(JSON.stringify(v))

interface Runner {
  start(): Promise<void>
  run(): Promise<void>
  stop(): void
  status(): PipelineStatus[]
}

/** Runners still going when a test fails: stopped (workers and all) before the file ends. */
const live = new Map<Runner, Promise<void>>()
after(async () => {
  for (const [runner, running] of live) {
    runner.stop()
    await running.catch(() => {})
  }
})

function launch(runner: Runner): { running: Promise<void>; stop(): Promise<void> } {
  const running = runner.run()
  live.set(runner, running)
  return {
    running,
    stop: async () => {
      runner.stop()
      await running
      live.delete(runner)
    },
  }
}

/** 50,000 clicks of 97 users, keyed by user; event time rises with the click number. */
async function produceClicks(log: EmbeddedLog, from = 0, to = CLICKS): Promise<void> {
  if (!(await log.hasTopic('clicks'))) await log.createTopic('clicks', { partitions: 4 })
  const producer = log.producer()
  for (let i = from; i < to; i += 10_000) {
    const chunk: Array<{ key: Buffer; value: Buffer }> = []
    for (let j = i; j < Math.min(to, i + 10_000); j++) {
      const click: Click = { user: `u${j % USERS}`, at: j * 2 }
      chunk.push({ key: Buffer.from(click.user), value: json(click) })
    }
    await producer.send('clicks', chunk)
  }
  await producer.close()
}

/** Every record of a topic as text, sorted: a multiset to compare runs with. */
function contents(log: EmbeddedLog, name: string): string[] {
  const out: string[] = []
  for (const p of log.partitionsOf(name)) {
    let offset = p.startOffset
    for (;;) {
      const batch = log.read(p.tp, offset)
      if (batch.length === 0) break
      for (const r of batch) {
        out.push(
          `${r.key ? Buffer.from(r.key).toString() : ''}|${r.value ? Buffer.from(r.value).toString() : ''}`,
        )
      }
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out.sort()
}

async function until(check: () => boolean, what: string, ms = 20_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    // pollMs 0: look again after each turn of the event loop (an in-thread runner yields at
    // every loop turn), so a stop lands within one read batch.
    await new Promise((r) => (pollMs === 0 ? setImmediate(r) : setTimeout(r, pollMs)))
  }
}

/** All input read and nothing committed for a while: every window the input closes is out. */
async function settled(runner: Runner): Promise<void> {
  let commits = -1
  let since = Date.now()
  await until(() => {
    const s = runner.status()[0]!
    if (s.lag !== 0 || s.commits !== commits) {
      commits = s.commits
      since = Date.now()
      return false
    }
    return Date.now() - since > 200
  }, 'the pipeline to settle')
}

async function runToEnd(runner: Runner): Promise<void> {
  await runner.start()
  const run = launch(runner)
  await settled(runner)
  await run.stop()
}

const threaded = (log: EmbeddedLog, pipeline: Pipeline, options: { maxBatch?: number } = {}) =>
  new ThreadedRunner(log, [pipeline], { module: MODULE, threads: 2, commitIntervalMs: 5, ...options })

describe('the threaded runner', () => {
  let reference: string[] = []

  test('commits exactly the windows the in-thread runner commits, over 2 worker threads', async () => {
    const inThread = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(inThread)
    await runToEnd(new EmbeddedRunner(inThread, [windowed], { commitIntervalMs: 5 }))
    reference = contents(inThread, 'click-counts')
    await inThread.close()

    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(log)
    const runner = threaded(log, windowed)
    await runToEnd(runner)
    assert.equal(runner.threads, 2)
    const status = runner.status()[0]!
    assert.equal(status.recordsIn, 2 * CLICKS, 'every click read, then every repartitioned click')
    assert.equal(status.deadLetters, 0)
    const output = contents(log, 'click-counts')
    await log.close()

    // 97 users × 100 one-second windows, less the last window of each user (still open).
    assert.equal(reference.length, USERS * 99)
    assert.deepEqual(output, reference)
    const total = output.reduce(
      (n, line) => n + (JSON.parse(line.split('|')[1]!) as { value: number }).value,
      0,
    )
    // The last second (clicks 49,500..49,999) is the open window.
    assert.equal(total, CLICKS - 500, 'every click of a closed window is counted once')
  })

  test('purges the repartition topic of what the pipeline committed past', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await produceClicks(log)
    const runner = new ThreadedRunner(log, [windowed], { module: MODULE, threads: 2, purgeIntervalMs: 20 })
    await runner.start()
    const run = launch(runner)
    await settled(runner)
    const repartition = compile(windowed).repartitionTopics[0]!.topic
    const deadline = Date.now() + 10_000
    for (;;) {
      const committed = await log.committedOffsets('windowed', repartition)
      const starts = (await log.describeTopic(repartition)).partitionDetails.map((d) => d.startOffset)
      if (starts.every((s, p) => s > 0 && s === committed.get(p))) break
      if (Date.now() > deadline) throw new Error(`starts ${starts}, committed ${[...committed]}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    await run.stop()
    await log.close()
  })

  test('stops and restarts partway through commit the same windows as one run', async () => {
    assert.ok(reference.length > 0, 'runs after the first test')
    const dir = tempDir()
    let log = await openEmbeddedLog({ dataDir: dir })
    await produceClicks(log)
    // Three lives: threaded, then in-thread (the state a worker wrote is the same state),
    // then threaded to the end. Small reads, so each stop lands in the middle of the input.
    const lives = [
      (l: EmbeddedLog) => threaded(l, windowed, { maxBatch: 100 }),
      (l: EmbeddedLog) => new EmbeddedRunner(l, [windowed], { commitIntervalMs: 5, maxBatch: 100 }),
    ]
    let committed = 0
    for (const [i, life] of lives.entries()) {
      const runner = life(log)
      await runner.start()
      const run = launch(runner)
      await until(() => runner.status()[0]!.recordsIn >= 10_000, `progress in life ${i + 1}`, 20_000, 0)
      await run.stop()
      const { lag } = runner.status()[0]!
      assert.ok(lag > 0, `life ${i + 1} stopped partway (lag ${lag})`)
      const consumed = [...(await log.committedOffsets('windowed', 'clicks')).values()].reduce(
        (a, b) => a + b,
        0,
      )
      assert.ok(consumed > committed && consumed < CLICKS, `life ${i + 1} committed ${consumed} clicks`)
      committed = consumed
      await log.close()
      log = await openEmbeddedLog({ dataDir: dir })
    }
    await runToEnd(threaded(log, windowed))
    assert.deepEqual(contents(log, 'click-counts'), reference)
    assert.deepEqual(contents(log, 'windowed-dlq'), [])
    await log.close()
  })

  test('a failure under the stop policy in a worker fails the run; nothing of it commits', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('strict-in', { partitions: 2 })
    await log.producer().send(
      'strict-in',
      [1, 2, 3, 4, 5, 6].map((n) => ({ value: json(n) })),
    )
    const runner = new ThreadedRunner(log, [strict], { module: MODULE, threads: 2, commitIntervalMs: 1_000 })
    await runner.start()
    assert.equal(runner.threads, 2)
    await assert.rejects(
      runner.run(),
      /stopped \(error policy "stop"\): step "map-0" failed: three is not allowed at strict-in\/\d@\d/,
    )
    assert.equal(runner.status()[0]!.state, 'failed')
    assert.deepEqual(contents(log, 'strict-out'), [], 'the round with the failure was not committed')
    assert.equal((await log.committedOffsets('strict', 'strict-in')).size, 0)
    await log.close()
  })

  test('a worker that crashes fails the run with its name and tasks; nothing of it commits', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('crash-in', { partitions: 2 })
    await log.producer().send(
      'crash-in',
      Array.from({ length: 10 }, (_, n) => ({ value: json(n) })),
    )
    const runner = new ThreadedRunner(log, [crashing], {
      module: MODULE,
      threads: 2,
      commitIntervalMs: 1_000,
    })
    await runner.start()
    await assert.rejects(runner.run(), (error: Error) => {
      assert.match(error.message, /worker thread \d \(tasks crashing\/0\/\d\) failed: boom in a timer/)
      assert.equal((error as { code?: string }).code, 'SLUICE_WORKER_FAILED')
      return true
    })
    assert.deepEqual(contents(log, 'crash-out'), [])
    assert.equal((await log.committedOffsets('crashing', 'crash-in')).size, 0)
    await log.close()
  })

  test('a pipeline the module does not declare is a clear error at start', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const elsewhere = new Pipeline('declared-elsewhere')
    elsewhere.from(topic<number>('elsewhere-in', { partitions: 1 })).to(topic<number>('elsewhere-out'))
    const runner = new ThreadedRunner(log, [elsewhere], { module: MODULE, threads: 2 })
    await assert.rejects(
      runner.start(),
      /declares no pipeline "declared-elsewhere" when a worker thread imports it/,
    )
    await log.close()
  })
})
