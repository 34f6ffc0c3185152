/**
 * Connectors on Kafka: an NDJSON file source appends to a Kafka topic (each batch and its
 * checkpoint in one Kafka transaction) and the PostgreSQL sink drains that topic into a table
 * (rows and positions in one PostgreSQL transaction). The runner is stopped mid-way and started
 * again: the topic holds every line once, the table every row once.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type Log, topic } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import type { SinkConnector, SourceConnector } from '../../../src/connectors/connect.ts'
import { ndjsonFile } from '../../../src/connectors/file/index.ts'
import { postgres } from '../../../src/connectors/postgres/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { tempDir } from '../../helpers/temp-dir.ts'
import { testDatabase } from '../postgres/pg-helpers.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = `${Date.now().toString(36)}${process.pid}`
const LINES = 5_000

interface Payment {
  id: number
  card: string
  amount: number
}

let kafka: Log
after(async () => {
  for (const t of await kafka.listTopics()) if (t.includes(run)) await kafka.deleteTopic(t).catch(() => {})
  await kafka.close()
})

test('file source → Kafka → PostgreSQL sink, exactly once across a restart', async () => {
  kafka = await openKafkaLog({ brokers })
  const db = await testDatabase()
  await db.query('CREATE TABLE payments (id int NOT NULL, card text NOT NULL, amount numeric NOT NULL)')
  const file = join(tempDir(), 'payments.ndjson')
  writeFileSync(
    file,
    `${Array.from({ length: LINES }, (_, id) => JSON.stringify({ id, card: `card-${id % 37}`, amount: id % 100 })).join('\n')}\n`,
  )
  const payments = topic<Payment>(`cx-payments-${run}`, { key: (p) => p.card, partitions: 3 })
  const connectors = () => {
    const source: SourceConnector<Payment> = {
      kind: 'source',
      name: `cx-file-${run}`,
      source: ndjsonFile<Payment>({ path: file, batchSize: 200 }),
      topic: payments,
    }
    const sink: SinkConnector<Payment> = {
      kind: 'sink',
      name: `cx-pg-${run}`,
      topic: payments,
      sink: postgres<Payment>({ url: db.url, table: 'payments', batchSize: 500 }),
    }
    return [source, sink]
  }
  const count = async () =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM payments'))[0]!.n)
  const deadline = Date.now() + 180_000
  const first = new ConnectorRunner(kafka, connectors())
  first.start()
  while ((await count()) < 1_000) {
    if (Date.now() > deadline) throw new Error(`first run: ${JSON.stringify(first.status())}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  await first.stop()
  const second = new ConnectorRunner(kafka, connectors())
  second.start()
  try {
    while ((await count()) < LINES) {
      if (Date.now() > deadline)
        throw new Error(`second run: ${await count()} rows, ${JSON.stringify(second.status())}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    // Let anything duplicated land before counting again.
    await new Promise((r) => setTimeout(r, 2_000))
    assert.equal(await count(), LINES)
    const dupes = await db.query('SELECT id FROM payments GROUP BY id HAVING count(*) > 1')
    assert.deepEqual(dupes, [])
    const d = await kafka.describeTopic(payments.name)
    let records = 0
    for (const p of d.partitionDetails) {
      let offset = p.startOffset
      while (offset < p.endOffset) {
        const batch = await kafka.fetch({ topic: payments.name, partition: p.partition }, offset)
        if (batch.length === 0) break
        records += batch.length
        offset = batch.at(-1)!.offset + 1
      }
    }
    assert.equal(records, LINES, 'the file source appended every line once (read_committed)')
  } finally {
    await second.stop()
  }
})
