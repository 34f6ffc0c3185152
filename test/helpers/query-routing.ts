/**
 * The query-routing check shared by the embedded-log and Kafka tests
 * (test/unit/server/query-routing.test.ts, test/integration/kafka/query-routing-kafka.test.ts).
 */
import assert from 'node:assert/strict'
import { GroupRunner, type Log, pipeline, sum, topic } from 'sluice'
import { startServer } from '../../src/server/server.ts'

interface Spend {
  card: string
  amount: number
}

/**
 * Two GroupRunners of one group on `log`, each with its own HTTP server: either server must
 * answer every key, asking the other worker for the keys it holds. `run` makes names unique.
 */
export async function checkQueryRouting(log: Log, run: string, timeoutMs: number): Promise<void> {
  const spends = topic<Spend>(`qr-spends-${run}`, { key: (s) => s.card, partitions: 4 })
  const build = () => {
    const p = pipeline(`qr-${run}`)
    p.from(spends)
      .keyed()
      .aggregate(
        sum((s: Spend) => s.amount),
        { name: 'total' },
      )
    return p
  }
  await log.createTopic(`qr-spends-${run}`, { partitions: 4 })
  const cards = Array.from({ length: 16 }, (_, i) => `card-${i}`)
  const producer = log.producer()
  await producer.send(
    `qr-spends-${run}`,
    cards.map((card, i) => ({
      key: Buffer.from(card),
      value: Buffer.from(JSON.stringify({ card, amount: i + 1 })),
    })),
  )
  await producer.close()
  const one = new GroupRunner(log, [build()], { instanceId: 'one' })
  const two = new GroupRunner(log, [build()], { instanceId: 'two' })
  await one.start()
  await two.start()
  const running = [one.run(), two.run()]
  const s1 = await startServer({ port: 0, runner: one, log })
  const s2 = await startServer({ port: 0, runner: two, log })
  try {
    one.advertise(s1.url)
    two.advertise(s2.url)
    const deadline = Date.now() + timeoutMs
    const get = async (base: string, card: string) => {
      const res = await fetch(`${base}/stores/total/${card}`)
      return {
        status: res.status,
        by: res.headers.get('sluice-answered-by'),
        body: (await res.json()) as { value?: number },
      }
    }
    // Both own tasks, and every card is answered with its total by either server.
    while (one.status()[0]!.tasks === 0 || two.status()[0]!.tasks === 0) {
      if (Date.now() > deadline)
        throw new Error(`both workers never owned tasks: ${JSON.stringify([one.status(), two.status()])}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    let forwarded = 0
    for (const [i, card] of cards.entries()) {
      for (const base of [s1.url, s2.url]) {
        let r = await get(base, card)
        while (r.body.value !== i + 1) {
          if (Date.now() > deadline) throw new Error(`${card} via ${base}: ${JSON.stringify(r)}`)
          await new Promise((res) => setTimeout(res, 50))
          r = await get(base, card)
        }
        assert.equal(r.status, 200)
        if (r.by !== null) forwarded++
      }
    }
    // Half the answers (the keys the asked worker does not hold) came from the other worker.
    assert.ok(forwarded >= 8, `forwarded ${forwarded} of 32`)
    const missing = await get(s1.url, 'no-such-card')
    assert.equal(missing.status, 404)
  } finally {
    one.stop()
    two.stop()
    await Promise.all(running)
    await s1.close()
    await s2.close()
    for (const t of await log.listTopics()) if (t.includes(run)) await log.deleteTopic(t).catch(() => {})
    await log.close()
  }
}
