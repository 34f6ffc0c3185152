/**
 * Exactly-once for poison records, on every runner: a record that makes a step throw after it
 * (or the steps before it) changed state — an aggregate, a window's accumulator changed in
 * place, process() state and timers — is dead-lettered once, and the committed outputs and
 * state are those of a run that never saw it. The pipeline is in fixtures/poison-pipelines.ts
 * (worker threads import it by path); the reference is the same runner over the same input
 * without the poison records.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  type EmbeddedLog,
  EmbeddedRunner,
  GroupRunner,
  type Keyed,
  openEmbeddedLog,
  pipeline,
  ThreadedRunner,
  topic,
} from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'
import { type Event, eventList, events, poisoned } from './fixtures/poison-pipelines.ts'

const MODULE = new URL('./fixtures/poison-pipelines.ts', import.meta.url)
const OUTPUTS = ['poison-totals', 'poison-windows', 'poison-seen']
const STORES = ['poisoned.totals', 'poisoned.per-second', 'poisoned.seen', 'poisoned.seen.timers']
const DLQ = 'poisoned-dlq'

interface Runner {
  start(): Promise<void>
  run(): Promise<void>
  stop(): void
}

const live = new Map<Runner, Promise<void>>()
after(async () => {
  for (const [runner, running] of live) {
    runner.stop()
    await running.catch(() => {})
  }
})

async function produce(log: EmbeddedLog, list: readonly Event[]): Promise<void> {
  await log.createTopic(events.name, { partitions: 2 })
  const producer = log.producer()
  // Several appends, so the runners read the input in several batches and commit in between.
  for (let i = 0; i < list.length; i += 250) {
    await producer.send(
      events.name,
      list
        .slice(i, i + 250)
        .map((e) => ({ key: Buffer.from(e.user), value: Buffer.from(JSON.stringify(e)) })),
    )
  }
  await producer.close()
}

function read(log: EmbeddedLog, name: string) {
  const out = []
  for (const p of log.partitionsOf(name)) {
    let offset = p.startOffset
    for (;;) {
      const batch = log.read(p.tp, offset)
      if (batch.length === 0) break
      out.push(...batch)
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out
}

/** Every output record as text, sorted per topic: a multiset to compare runs with. */
function outputs(log: EmbeddedLog): Record<string, string[]> {
  return Object.fromEntries(
    OUTPUTS.map((name) => [
      name,
      read(log, name)
        .map((r) => `${Buffer.from(r.key ?? []).toString()}|${Buffer.from(r.value ?? []).toString()}`)
        .sort(),
    ]),
  )
}

/** The steps' committed state in the log's LMDB environment (embedded and threaded runners). */
function lmdbState(log: EmbeddedLog): string[] {
  const out: string[] = []
  for (const { key, value } of log.storage.state.getRange({ start: 'poisoned.', end: 'poisoned.\uffff' })) {
    if (STORES.includes(String(key).split('\0')[0]!)) out.push(`${String(key)}=${JSON.stringify(value)}`)
  }
  return out.sort()
}

/** The steps' committed state as the group runner keeps it: the last record per key of each changelog. */
function changelogState(log: EmbeddedLog): string[] {
  const latest = new Map<string, string>()
  for (const store of STORES) {
    for (const r of read(log, `${store}-changelog`)) {
      const key = `${store}\0${r.partition}\0${Buffer.from(r.key ?? []).toString()}`
      if (r.value === null) latest.delete(key)
      else latest.set(key, Buffer.from(r.value).toString())
    }
  }
  return [...latest].map(([k, v]) => `${k}=${v}`).sort()
}

async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Runs until the pipeline has committed its input to the end, then stops (a final commit). */
async function runToEnd(log: EmbeddedLog, runner: Runner): Promise<void> {
  await runner.start()
  const running = runner.run()
  live.set(runner, running)
  await until(async () => {
    const committed = await log.committedOffsets('poisoned', events.name)
    return log.partitionsOf(events.name).every((p) => (committed.get(p.partition) ?? 0) >= p.highWatermark)
  }, 'the input committed to its end')
  runner.stop()
  await running
  live.delete(runner)
}

/** Equal multisets, or the first lines each side has that the other has not (a short message). */
function sameLines(actual: Record<string, string[]> | string[], expected: typeof actual, what: string): void {
  const a = Array.isArray(actual) ? { all: actual } : actual
  const e = Array.isArray(expected) ? { all: expected } : expected
  for (const k of new Set([...Object.keys(a), ...Object.keys(e)])) {
    const left = [...(a[k] ?? [])]
    const right = [...(e[k] ?? [])]
    const extra: string[] = []
    for (const line of left) {
      const i = right.indexOf(line)
      if (i >= 0) right.splice(i, 1)
      else extra.push(line)
    }
    if (extra.length > 0 || right.length > 0) {
      assert.fail(
        `${what} ${k}: ${extra.length} unexpected, e.g. ${extra.slice(0, 3).join(' ; ')}; ` +
          `${right.length} missing, e.g. ${right.slice(0, 3).join(' ; ')}`,
      )
    }
  }
}

type Make = (log: EmbeddedLog) => Runner
const runners: Array<[string, Make, (log: EmbeddedLog) => string[]]> = [
  ['embedded runner', (log) => new EmbeddedRunner(log, [poisoned], { commitIntervalMs: 20 }), lmdbState],
  [
    'threaded runner (2 workers)',
    (log) => new ThreadedRunner(log, [poisoned], { module: MODULE, threads: 2, commitIntervalMs: 5 }),
    lmdbState,
  ],
  [
    'group runner (embedded log)',
    (log) => new GroupRunner(log, [poisoned], { commitIntervalMs: 20 }),
    changelogState,
  ],
]

async function run(make: Make, state: (log: EmbeddedLog) => string[], list: readonly Event[]) {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  await produce(log, list)
  await runToEnd(log, make(log))
  const result = { outputs: outputs(log), state: state(log), dlq: read(log, DLQ) }
  await log.close()
  return result
}

for (const [name, make, state] of runners) {
  describe(`poison records on the ${name}`, () => {
    test('a poison record mid-batch leaves no state or output behind; the dead-letter topic holds it once', async () => {
      // 3,000 events, every 401st poison: 7 poison records, each in the middle of a batch and
      // followed by more events of its user and of the others.
      const all = eventList(3_000, 401)
      const poison = all.filter((e) => e.fail)
      assert.equal(poison.length, 7)
      const clean = await run(
        make,
        state,
        all.filter((e) => !e.fail),
      )
      const dirty = await run(make, state, all)
      assert.equal(clean.dlq.length, 0)
      assert.ok(clean.outputs['poison-windows']!.length > 100, 'windows closed')
      assert.ok(clean.state.length > 20, 'the reference has state')
      sameLines(dirty.outputs, clean.outputs, 'outputs')
      sameLines(dirty.state, clean.state, 'state')
      // Each poison record once, as it was read, with where and why it failed.
      const letters = dirty.dlq.map((r) => JSON.parse(Buffer.from(r.value!).toString()) as Event)
      assert.deepEqual(
        letters.map((e) => e.n).sort((a, b) => a - b),
        poison.map((e) => e.n),
      )
      for (const r of dirty.dlq) {
        const e = JSON.parse(Buffer.from(r.value!).toString()) as Event
        assert.equal(Buffer.from(r.key!).toString(), e.user)
        assert.equal(r.headers['sluice-source-topic'], events.name)
        assert.equal(r.headers['sluice-pipeline'], 'poisoned')
        assert.match(r.headers['sluice-source-offset']!, /^\d+$/)
        const step = { total: 'map-', window: 'per-second', process: 'seen' }[e.fail!]
        assert.ok(
          r.headers['sluice-operator']!.startsWith(step),
          `${r.headers['sluice-operator']} for ${e.fail}`,
        )
        assert.match(r.headers['sluice-error']!, /poison/)
      }
    })

    test('many poison records (one event in five) still finish, each dead-lettered once', async () => {
      const all = eventList(2_000, 5)
      const clean = await run(
        make,
        state,
        all.filter((e) => !e.fail),
      )
      const dirty = await run(make, state, all)
      assert.equal(dirty.dlq.length, 400)
      sameLines(dirty.outputs, clean.outputs, 'outputs')
      sameLines(dirty.state, clean.state, 'state')
    })
  })
}

test('embedded runner: a mapAsync that fails after a stateful step leaves no state behind', async () => {
  const input = topic<Event>('async-poison-in', { partitions: 2, key: (e) => e.user, timestamp: (e) => e.at })
  const out = topic<Keyed<number>>('async-poison-out')
  const build = () => {
    const p = pipeline('async-poisoned')
    p.from(input)
      .keyed()
      .aggregate({ init: () => 0, add: (sum: number, e: Event) => sum + e.n }, { name: 'sums' })
      .mapAsync(async (k) => {
        await new Promise((r) => setImmediate(r))
        if (k.value % 7 === 3) throw new Error(`poison sum ${k.value}`)
        return k
      })
      .to(out)
    return p
  }
  const runOnce = async (list: readonly Event[]) => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic(input.name, { partitions: 2 })
    const producer = log.producer()
    await producer.send(
      input.name,
      list.map((e) => ({ key: Buffer.from(e.user), value: Buffer.from(JSON.stringify(e)) })),
    )
    await producer.close()
    const runner = new EmbeddedRunner(log, [build()], { commitIntervalMs: 20 })
    await runner.start()
    const running = runner.run()
    live.set(runner, running)
    await until(async () => {
      const committed = await log.committedOffsets('async-poisoned', input.name)
      return log.partitionsOf(input.name).every((p) => (committed.get(p.partition) ?? 0) >= p.highWatermark)
    }, 'the input committed to its end')
    runner.stop()
    await running
    live.delete(runner)
    const result = {
      out: read(log, out.name)
        .map((r) => Buffer.from(r.value!).toString())
        .sort(),
      dlq: read(log, 'async-poisoned-dlq').map(
        (r) => (JSON.parse(Buffer.from(r.value!).toString()) as Event).n,
      ),
    }
    await log.close()
    return result
  }
  // Expected, per user in input order: a record whose new sum fails is dead-lettered and
  // leaves the sum as it was (the bug kept its amount in the sum).
  const all = eventList(600, 0)
  const sums = new Map<string, number>()
  const expected: string[] = []
  const poison: number[] = []
  for (const e of all) {
    const sum = (sums.get(e.user) ?? 0) + e.n
    if (sum % 7 === 3) poison.push(e.n)
    else {
      sums.set(e.user, sum)
      expected.push(JSON.stringify({ key: e.user, value: sum }))
    }
  }
  assert.ok(poison.length > 3, `some records fail (${poison.length})`)
  const dirty = await runOnce(all)
  assert.deepEqual(
    dirty.dlq.sort((a, b) => a - b),
    poison,
  )
  sameLines(dirty.out, expected.sort(), 'outputs')
})
