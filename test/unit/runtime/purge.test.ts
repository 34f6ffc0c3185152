/**
 * Repartition topics are purged of what the group has committed past (runtime/purge.ts):
 * their start offsets follow the committed offsets, the results are unchanged, and a restart
 * after a purge goes on from the committed offsets. On the embedded runner and on the group
 * runner (the Kafka worker's code, here on the embedded log).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compile, count, EmbeddedRunner, GroupRunner, openEmbeddedLog, pipeline, topic } from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Click {
  user: string
  n: number
}

function counting(name: string) {
  const clicks = topic<Click>(`${name}-clicks`, { partitions: 2 })
  const out = topic<{ key: string; value: number }>(`${name}-counts`, { partitions: 1 })
  const p = pipeline(name)
  p.from(clicks)
    .keyBy((c) => c.user)
    .aggregate(count(), { name: 'per-user' })
    .to(out)
  return { p, clicks, out }
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

for (const kind of ['embedded runner', 'group runner'] as const) {
  test(`${kind}: repartition records the pipeline committed past are deleted; a restart goes on`, async () => {
    const dir = tempDir()
    const name = kind === 'embedded runner' ? 'purge-e' : 'purge-g'
    const { p, clicks, out } = counting(name)
    const repartition = compile(p).repartitionTopics[0]!.topic
    let log = await openEmbeddedLog({ dataDir: dir })
    const make = (l: typeof log) =>
      kind === 'embedded runner'
        ? // Through the log: in memory (the default) the repartition topic stays empty.
          new EmbeddedRunner(l, [p], { purgeIntervalMs: 50, exchange: false })
        : new GroupRunner(l, [p], { purgeIntervalMs: 50 })
    const send = async (from: number, to: number) => {
      const producer = log.producer()
      await producer.send(
        clicks.name,
        Array.from({ length: to - from }, (_, i) => ({
          key: Buffer.from(`u${(from + i) % 7}`),
          value: Buffer.from(JSON.stringify({ user: `u${(from + i) % 7}`, n: from + i })),
        })),
      )
      await producer.close()
    }
    const starts = async () =>
      (await log.describeTopic(repartition)).partitionDetails.map((d) => d.startOffset)
    const ends = async () => (await log.describeTopic(repartition)).partitionDetails.map((d) => d.endOffset)
    const committed = async () => {
      const c = await log.committedOffsets(name, repartition)
      return [0, 1].map((partition) => c.get(partition) ?? 0)
    }

    let runner = make(log)
    await runner.start()
    let running = runner.run()
    await send(0, 700)
    // Every record through the repartition topic (700, plus watermark markers), committed and purged.
    await until('the purge to reach the committed offsets', async () => {
      const [s, c, e] = [await starts(), await committed(), await ends()]
      return c.every((o, i) => o === e[i] && o > 0) && s.every((o, i) => o === c[i])
    })
    runner.stop()
    await running

    // A restart after the purge: reads go on from the committed offsets, past the deleted ones.
    await log.close()
    log = await openEmbeddedLog({ dataDir: dir })
    assert.deepEqual(await starts(), await committed(), 'the start offsets survive a reopen')
    runner = make(log)
    await runner.start()
    running = runner.run()
    await send(700, 1_400)
    const finalCounts = async () => {
      const last = new Map<string, number>()
      const end = (await log.describeTopic(out.name)).partitionDetails[0]!.endOffset
      for (let o = 0; o < end; ) {
        const batch = await log.fetch({ topic: out.name, partition: 0 }, o)
        for (const r of batch) {
          const v = JSON.parse(Buffer.from(r.value!).toString()) as { key: string; value: number }
          last.set(v.key, v.value)
        }
        o = batch[batch.length - 1]!.offset + 1
      }
      return last
    }
    await until('every user counted 200 times', async () => {
      const last = await finalCounts()
      return last.size === 7 && [...last.values()].every((v) => v === 200)
    })
    runner.stop()
    await running
    await log.close()
  })
}
