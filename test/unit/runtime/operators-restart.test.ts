/**
 * The newer operators keep part of their state in memory (stream–stream joins, patterns,
 * dedupe, stream–table joins) and rebuild it from their stores when a task starts. A run
 * stopped halfway and restarted on the same data directory must commit exactly what one
 * uninterrupted run commits.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  type Pipeline,
  pattern,
  pipeline,
  topic,
} from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Event {
  k: string
  kind: 'a' | 'b'
  n: number
  at: number
}

const N = 4_000
const events = topic<Event>('or-events', { key: (e) => e.k, timestamp: (e) => e.at, partitions: 2 })

function build(): Pipeline {
  const p = pipeline('or')
  const watermark = { maxOutOfOrder: '2s', idleAfter: '1h' } as const
  const all = p.from(events, { watermark })
  const as = all.filter((e) => e.kind === 'a', { name: 'as' })
  const bs = all.filter((e) => e.kind === 'b', { name: 'bs' })
  as.leftJoin(bs, (a, b) => `${a.n}-${b?.n ?? 'none'}`, { name: 'pairs', within: '1s' }).to(topic('or-pairs'))
  all
    .match(
      pattern<Event>()
        .begin('a', (e) => e.kind === 'a')
        .times(2)
        .followedBy('b', (e) => e.kind === 'b')
        .within('3s'),
      { name: 'aab' },
    )
    .map((m) => `${m.key}:${m.events.a.map((e) => e.n).join(',')}>${m.events.b[0]!.n}`)
    .to(topic('or-matches'))
  all
    // Three events in a row share an id (one across the restart, 1998–2000): two are dropped.
    .map((e) => ({ ...e, id: `id${Math.floor(e.n / 3)}` }))
    .dedupe({ name: 'once', id: (e) => e.id, within: '5s' })
    .map((e) => e.n)
    .to(topic('or-unique'))
  return p
}

function input(from: number, to: number) {
  const out = []
  for (let i = from; i < to; i++) {
    const e: Event = { k: `k${i % 7}`, kind: i % 3 === 0 ? 'b' : 'a', n: i, at: i * 100 - (i % 5) * 150 }
    out.push({ key: Buffer.from(e.k), value: Buffer.from(JSON.stringify(e)) })
  }
  return out
}

async function runUntilCommitted(log: EmbeddedLog, p: Pipeline): Promise<void> {
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const running = runner.run()
  const deadline = Date.now() + 30_000
  for (;;) {
    const committed = await log.committedOffsets('or', events.name)
    if (
      log
        .partitionsOf(events.name)
        .every((part) => (committed.get(part.partition) ?? 0) >= part.highWatermark)
    )
      break
    if (Date.now() > deadline) throw new Error('the run did not catch up')
    await new Promise((r) => setTimeout(r, 10))
  }
  runner.stop()
  await running
}

function outputs(log: EmbeddedLog): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const name of ['or-pairs', 'or-matches', 'or-unique']) {
    const all: string[] = []
    for (const part of log.partitionsOf(name)) {
      for (let offset = part.startOffset; ; ) {
        const batch = log.read(part.tp, offset)
        if (batch.length === 0) break
        for (const r of batch)
          all.push(`${Buffer.from(r.key ?? []).toString()}|${Buffer.from(r.value ?? []).toString()}`)
        offset = batch[batch.length - 1]!.offset + 1
      }
    }
    out[name] = all.sort()
  }
  return out
}

test('joins, patterns and dedupe resume from their stores: a stopped and restarted run equals an uninterrupted one', async () => {
  const once = await openEmbeddedLog({ dataDir: tempDir() })
  await once.createTopic(events.name, { partitions: 2 })
  const producer = once.producer()
  await producer.send(events.name, input(0, N))
  await producer.close()
  await runUntilCommitted(once, build())
  const expected = outputs(once)
  await once.close()
  assert.ok(
    expected['or-pairs']!.length > 1_000 && expected['or-matches']!.length > 100,
    'the run has outputs',
  )

  const dir = tempDir()
  let log = await openEmbeddedLog({ dataDir: dir })
  await log.createTopic(events.name, { partitions: 2 })
  let p = log.producer()
  await p.send(events.name, input(0, N / 2))
  await p.close()
  await runUntilCommitted(log, build())
  await log.close()
  // A new process: the operators rebuild their in-memory indexes from the stores.
  log = await openEmbeddedLog({ dataDir: dir })
  p = log.producer()
  await p.send(events.name, input(N / 2, N))
  await p.close()
  await runUntilCommitted(log, build())
  assert.deepEqual(outputs(log), expected)
  await log.close()
})
