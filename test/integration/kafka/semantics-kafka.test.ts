/**
 * Engine semantics on the Kafka backend: the same pipelines, unchanged, on a GroupRunner
 * worker over Kafka and on the embedded runner, must commit the same hand-computed windows —
 * out-of-order records inside the bound, late records to the side topic, session merging.
 *
 * Input (one partition, in this order; event time in ms; watermark = max event time − 5 s):
 *   a@1000 a@3000 b@4000 a@12000 a@2000 z@100000 a@500
 * - a@2000 is out of order but the watermark (7000) has not passed its window: it counts;
 * - z@100000 moves the watermark to 95000: every window before it closes;
 * - a@500, appended once the rest is committed, finds its windows closed: late, to the side
 *   topic. (Watermarks move between read batches, as Flink's periodic watermarks do; a@500 in
 *   the same batch as z@100000 would still count.)
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  count,
  EmbeddedRunner,
  GroupRunner,
  type Log,
  openEmbeddedLog,
  type Pipeline,
  pipeline,
  session,
  topic,
  tumbling,
  type Windowed,
} from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Event {
  k: string
  at: number
}

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = `${Date.now().toString(36)}${process.pid}`
const INPUT: Event[] = [
  { k: 'a', at: 1000 },
  { k: 'a', at: 3000 },
  { k: 'b', at: 4000 },
  { k: 'a', at: 12000 },
  { k: 'a', at: 2000 },
  { k: 'z', at: 100000 },
  { k: 'a', at: 500 },
]
const events = topic<Event>(`sem-events-${run}`, { timestamp: (e) => e.at, partitions: 1 })
const tumblingOut = topic<Windowed<number>>(`sem-tumbling-${run}`)
const lateOut = topic<Event>(`sem-late-${run}`)
const sessionOut = topic<Windowed<number>>(`sem-session-${run}`)

function pipelines(): Pipeline[] {
  const t = pipeline(`sem-tumbling-${run}`)
  t.from(events, { watermark: { maxOutOfOrder: '5s', idleAfter: '1h' } })
    .keyed()
    .window(tumbling({ size: '10s' }), { late: lateOut })
    .aggregate(count(), { name: 'count' })
    .to(tumblingOut)
  const s = pipeline(`sem-session-${run}`)
  s.from(events, { watermark: { maxOutOfOrder: '5s', idleAfter: '1h' } })
    .keyed()
    .window(session({ gap: '5s' }))
    .aggregate(count(), { name: 'count' })
    .to(sessionOut)
  return [t, s]
}

const EXPECTED = {
  tumbling: [
    { key: 'a', start: 0, end: 10000, value: 3 },
    { key: 'a', start: 10000, end: 20000, value: 1 },
    { key: 'b', start: 0, end: 10000, value: 1 },
  ],
  late: [{ k: 'a', at: 500 }],
  session: [
    { key: 'a', start: 1000, end: 8000, value: 3 },
    { key: 'a', start: 12000, end: 17000, value: 1 },
    { key: 'b', start: 4000, end: 9000, value: 1 },
  ],
}

async function values(log: Log, name: string): Promise<unknown[]> {
  const out: unknown[] = []
  for (const { partition } of (await log.describeTopic(name)).partitionDetails) {
    const tp = { topic: name, partition }
    const end = await log.resolveOffset(tp, 'latest')
    let offset = await log.resolveOffset(tp, 'earliest')
    while (offset < end) {
      const batch = await log.fetch(tp, offset)
      if (batch.length === 0) break
      for (const r of batch) out.push(JSON.parse(Buffer.from(r.value ?? []).toString()))
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))
}

/** Runs the pipelines until both groups have committed the whole input, then reads the outputs. */
async function runOn(log: Log, runner: { start(): Promise<void>; run(): Promise<void>; stop(): void }) {
  await log.createTopic(events.name, { partitions: 1 })
  const producer = log.producer()
  const append = async (list: Event[]) => {
    for (const e of list)
      await producer.send(events.name, { key: Buffer.from(e.k), value: Buffer.from(JSON.stringify(e)) })
  }
  const committed = async (n: number) => {
    const deadline = Date.now() + 60_000
    for (const group of [`sem-tumbling-${run}`, `sem-session-${run}`]) {
      while (((await log.committedOffsets(group, events.name)).get(0) ?? 0) < n) {
        if (Date.now() > deadline) throw new Error(`group ${group} did not commit ${n} records in 60 s`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }
  await append(INPUT.slice(0, -1))
  await runner.start()
  const running = runner.run()
  await committed(INPUT.length - 1)
  await append(INPUT.slice(-1))
  await committed(INPUT.length)
  await producer.close()
  runner.stop()
  await running
  return {
    tumbling: await values(log, tumblingOut.name),
    late: await values(log, lateOut.name),
    session: await values(log, sessionOut.name),
  }
}

let kafka: Log
before(async () => {
  kafka = await openKafkaLog({ brokers })
})
after(async () => {
  for (const t of await kafka.listTopics()) if (t.includes(run)) await kafka.deleteTopic(t).catch(() => {})
  await kafka.close()
})

describe('window semantics on both backends', () => {
  test('embedded runner: the hand-computed windows', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    const out = await runOn(log, new EmbeddedRunner(log, pipelines()))
    await log.close()
    assert.deepEqual(out, EXPECTED)
  })

  test('Kafka worker (GroupRunner, exactly-once): the same windows', async () => {
    const out = await runOn(kafka, new GroupRunner(kafka, pipelines()))
    assert.deepEqual(out, EXPECTED)
  })
})
