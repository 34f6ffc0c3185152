/**
 * Foreign-key joins between two partitioned tables (src/dsl/fk-join.ts): orders by order id
 * joined with customers by customer id on `order.customer`, by hand-computed expectations —
 * on the TestDriver with several partitions (so the three steps meet through real
 * repartitions) and end to end on the embedded runner.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  type Pipeline,
  pipeline,
  type TopicDef,
  topic,
} from 'sluice'
import { TestDriver } from 'sluice/testing'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Order {
  id: string
  customer: string
  amount: number
}
interface Customer {
  id: string
  tier: string
}
interface Enriched {
  id: string
  amount: number
  tier: string | null
}

function build(prefix: string, type: 'inner' | 'left', partitions?: number) {
  const orders = topic<Order>(`${prefix}-orders`, { key: (o) => o.id, ...(partitions ? { partitions } : {}) })
  const customers = topic<Customer>(`${prefix}-customers`, {
    key: (c) => c.id,
    ...(partitions ? { partitions: partitions + 1 } : {}),
  })
  const out = topic<Enriched | null>(`${prefix}-enriched`, partitions ? { partitions } : {})
  const p = pipeline(prefix)
  const o = p.table(orders, { watermark: { idleAfter: '1h' } })
  const c = p.table(customers, { watermark: { idleAfter: '1h' } })
  const joiner = (x: Order, y: Customer | null): Enriched => ({
    id: x.id,
    amount: x.amount,
    tier: y?.tier ?? null,
  })
  const joined =
    type === 'inner'
      ? o.joinOn(c, (x) => x.customer, joiner, { name: 'enriched' })
      : o.leftJoinOn(c, (x) => x.customer, joiner, { name: 'enriched' })
  joined.toStream().to(out)
  return { p, orders, customers, out }
}

/** The latest value per key of a table's update stream (null: deleted). */
function latest(
  records: ReadonlyArray<{ key: string | null; value: Enriched | null }>,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const r of records) {
    if (r.value === null) delete out[r.key!]
    else out[r.key!] = `${r.value.amount}:${r.value.tier}`
  }
  return out
}

test('inner foreign-key join: updates of either side, a changed foreign key, deletes', () => {
  const { p, orders, customers, out } = build('fk-inner', 'inner')
  const d = new TestDriver(p, { partitions: 3 })
  d.pipe(customers, { id: 'c1', tier: 'gold' })
  d.pipe(customers, { id: 'c2', tier: 'silver' })
  d.pipe(orders, { id: 'o1', customer: 'c1', amount: 10 })
  d.pipe(orders, { id: 'o2', customer: 'c2', amount: 20 })
  d.pipe(orders, { id: 'o3', customer: 'c3', amount: 30 }) // no customer c3: no result
  assert.deepEqual(latest(d.output(out)), { o1: '10:gold', o2: '20:silver' })
  d.pipe(customers, { id: 'c1', tier: 'platinum' }) // every order of c1 follows
  assert.deepEqual(latest(d.output(out)), { o1: '10:platinum', o2: '20:silver' })
  d.pipe(orders, { id: 'o2', customer: 'c1', amount: 21 }) // o2 moves to c1
  d.pipe(customers, { id: 'c2', tier: 'bronze' }) // c2 no longer concerns o2
  assert.deepEqual(latest(d.output(out)), { o1: '10:platinum', o2: '21:platinum' })
  d.pipe(customers, { id: 'c3', tier: 'new' }) // o3's customer arrives
  assert.deepEqual(latest(d.output(out)), { o1: '10:platinum', o2: '21:platinum', o3: '30:new' })
  d.pipeRaw(orders.name, null, { key: Buffer.from('o1') }) // order deleted: its result too
  d.pipeRaw(customers.name, null, { key: Buffer.from('c3') }) // customer deleted: inner drops o3
  assert.deepEqual(latest(d.output(out)), { o2: '21:platinum' })
  assert.equal(d.deadLetters().length, 0)
})

test('left foreign-key join: rows without a right row have right = null', () => {
  const { p, orders, customers, out } = build('fk-left', 'left')
  const d = new TestDriver(p, { partitions: 2 })
  d.pipe(orders, { id: 'o1', customer: 'c9', amount: 5 })
  assert.deepEqual(latest(d.output(out)), { o1: '5:null' })
  d.pipe(customers, { id: 'c9', tier: 'gold' })
  assert.deepEqual(latest(d.output(out)), { o1: '5:gold' })
  d.pipeRaw(customers.name, null, { key: Buffer.from('c9') })
  assert.deepEqual(latest(d.output(out)), { o1: '5:null' })
})

async function drain(
  log: EmbeddedLog,
  p: Pipeline,
  out: TopicDef<Enriched | null>,
  want: Record<string, string>,
) {
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const running = runner.run()
  try {
    const deadline = Date.now() + 20_000
    for (;;) {
      const records: { key: string | null; value: Enriched | null }[] = []
      for (const part of log.partitionsOf(out.name)) {
        for (const r of log.read(part.tp, part.startOffset, { maxRecords: 100_000 })) {
          records.push({
            key: r.key === null ? null : Buffer.from(r.key).toString(),
            value: r.value === null ? null : JSON.parse(Buffer.from(r.value).toString()),
          })
        }
      }
      // Per key, records of one output partition are in order: the latest is the result.
      const got = latest(records)
      if (Date.now() > deadline) {
        assert.deepEqual(got, want)
        return
      }
      try {
        assert.deepEqual(got, want)
        return
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  } finally {
    runner.stop()
    await running
  }
}

test('foreign-key join on the embedded runner: tables with different partition counts', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const { p, orders, customers, out } = build('fk-run', 'inner', 3)
  await log.createTopic(orders.name, { partitions: 3 })
  await log.createTopic(customers.name, { partitions: 4 })
  const producer = log.producer()
  const send = (def: TopicDef<unknown>, key: string, value: unknown) =>
    producer.send(def.name, {
      key: Buffer.from(key),
      value: value === null ? null : Buffer.from(JSON.stringify(value)),
    })
  for (let i = 0; i < 10; i++)
    await send(customers as TopicDef<unknown>, `c${i}`, { id: `c${i}`, tier: `t${i}` })
  for (let i = 0; i < 40; i++)
    await send(orders as TopicDef<unknown>, `o${i}`, { id: `o${i}`, customer: `c${i % 10}`, amount: i })
  const want: Record<string, string> = {}
  for (let i = 0; i < 40; i++) want[`o${i}`] = `${i}:t${i % 10}`
  await drain(log, p, out, want)
  // Orders move to other customers, a customer changes, an order goes away.
  for (let i = 0; i < 40; i += 4) {
    await send(orders as TopicDef<unknown>, `o${i}`, { id: `o${i}`, customer: 'c1', amount: i })
    want[`o${i}`] = `${i}:t1-new`
  }
  await send(customers as TopicDef<unknown>, 'c1', { id: 'c1', tier: 't1-new' })
  for (let i = 1; i < 40; i += 10) want[`o${i}`] = `${i}:t1-new`
  await send(orders as TopicDef<unknown>, 'o2', null)
  delete want.o2
  await producer.close()
  await drain(log, p, out, want)
  await log.close()
})
