/**
 * The event store as a Sluice source and sink, on a real embedded log and embedded event store:
 * the global order lands in a topic once (a restarted source resumes at its checkpoint), and
 * records of a topic become events once (a redelivered batch is answered as duplicates).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { connect } from '../../../src/connectors/connect.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import type { SinkBatch, SinkRecord } from '../../../src/connectors/types.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { eventStoreSink, eventStoreSource } from '../../../src/eventstore/connectors.ts'
import {
  type EmbeddedEventStore,
  openEmbeddedEventStore,
} from '../../../src/eventstore/embedded/embedded-event-store.ts'
import type { RecordedEvent } from '../../../src/eventstore/types.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, readValues, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

describe('event store connectors', () => {
  const dataDir = tempDir()
  let log: EmbeddedLog
  let store: EmbeddedEventStore

  before(async () => {
    // The log and the event store share a data directory, each with its own LMDB environment.
    log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
    store = await openEmbeddedEventStore({ dataDir })
  })
  after(async () => {
    await store.close()
    await log.close()
  })

  test('source: the global order into a topic, keyed by stream; a restart resumes after its checkpoint', async () => {
    for (let i = 0; i < 30; i++) {
      await store.append(`order-${i % 3}`, [{ type: i % 2 ? 'Paid' : 'Placed', data: { i } }])
    }
    await store.append('cart-1', [{ type: 'Opened', data: {} }])
    const out = topic<RecordedEvent>('es-orders')
    const source = () => eventStoreSource(store, { streamPrefix: 'order-', batchSize: 8, pollMs: 20 })
    const first = new ConnectorRunner(log, [connect('es-orders-source', { from: source(), to: out })])
    first.start()
    await waitFor('30 events in the topic', async () => (await readTopic(log, 'es-orders')).length === 30)
    await first.stop()

    for (let i = 30; i < 35; i++) await store.append(`order-${i % 3}`, [{ type: 'Placed', data: { i } }])
    // The same connector name: it picks up its checkpoint.
    const second = new ConnectorRunner(log, [
      { kind: 'source', name: 'es-orders-source', source: source(), topic: out },
    ])
    second.start()
    await waitFor('35 events in the topic', async () => (await readTopic(log, 'es-orders')).length >= 35)
    await new Promise((resolve) => setTimeout(resolve, 100))
    await second.stop()

    const records = await readTopic(log, 'es-orders')
    const values = records.map((r) => JSON.parse(Buffer.from(r.value!).toString()) as RecordedEvent)
    const expected = (await store.readAll({ streamPrefix: 'order-' })).events
    assert.deepEqual(values, expected, 'every order event once, in the global order, nothing from cart-1')
    assert.deepEqual(
      records.map((r) => Buffer.from(r.key!).toString()),
      expected.map((e) => e.streamId),
    )
    assert.equal(records[0]!.headers['event-type'], expected[0]!.type)
    assert.equal(records[0]!.timestamp, expected[0]!.timestamp)
  })

  test('sink: records become events once, also when a batch is delivered again cut differently', async () => {
    interface Payment {
      account: string
      amount: number
    }
    const payments = topic<Payment>('es-payments')
    await log.createTopic('es-payments', { partitions: 2 })
    const values: Payment[] = Array.from({ length: 40 }, (_, i) => ({ account: `a${i % 4}`, amount: i }))
    await log.producer().send(
      'es-payments',
      values.map((v) => ({ key: Buffer.from(v.account), value: Buffer.from(JSON.stringify(v)) })),
    )
    const sink = () =>
      eventStoreSink<Payment>(store, {
        stream: (p) => `payments-${p.account}`,
        event: (p) => ({ type: 'PaymentReceived', data: p }),
        batchSize: 7,
      })
    const runner = new ConnectorRunner(log, [connect('es-payments-sink', { from: payments, to: sink() })])
    runner.start()
    const count = async () => {
      let n = 0
      for (let a = 0; a < 4; a++) n += await store.streamVersion(`payments-a${a}`)
      return n
    }
    await waitFor('40 events', async () => (await count()) === 40)
    await runner.stop()

    // Redelivery, as after a crash before the offsets were committed: the whole topic again,
    // in one batch (cut differently from the first delivery).
    const records: SinkRecord<Payment>[] = (await readTopic(log, 'es-payments')).map((r) => ({
      value: JSON.parse(Buffer.from(r.value!).toString()) as Payment,
      key: Buffer.from(r.key!).toString(),
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      headers: r.headers,
    }))
    const again = sink()
    const deadLettered: unknown[] = []
    await again.open({
      connector: 'es-payments-sink',
      topic: 'es-payments',
      partitions: 2,
      signal: new AbortController().signal,
      deadLetter: async (dead) => void deadLettered.push(...dead),
    })
    const batch: SinkBatch<Payment> = { records, positions: new Map() }
    await again.write(batch)
    assert.equal(await count(), 40, 'the redelivered records were duplicates')
    assert.deepEqual(deadLettered, [])
    for (let a = 0; a < 4; a++) {
      const events = await store.readStream(`payments-a${a}`)
      assert.deepEqual(
        events.map((e) => (e.data as Payment).amount).sort((x, y) => x - y),
        values.filter((v) => v.account === `a${a}`).map((v) => v.amount),
      )
      assert.ok(events.every((e) => e.id.startsWith('sluice:es-payments:')))
    }
    assert.deepEqual(await readValues(log, 'es-payments-sink-dlq'), [])
  })

  test('sink: a record that cannot be an event is dead-lettered with the reason; the rest are appended', async () => {
    await log.createTopic('es-notes', { partitions: 1 })
    const notes = [
      { type: 'Noted', data: { n: 1 } },
      { kind: 'not an event' },
      { type: 'Noted', data: { n: 3 } },
    ]
    await log.producer().send(
      'es-notes',
      notes.map((v) => ({ value: Buffer.from(JSON.stringify(v)) })),
    )
    const runner = new ConnectorRunner(log, [
      connect('es-notes-sink', {
        from: topic('es-notes'),
        to: eventStoreSink(store, { stream: () => 'notes' }),
      }),
    ])
    runner.start()
    await waitFor('a dead letter', async () => (await readTopic(log, 'es-notes-sink-dlq')).length === 1)
    await waitFor('2 events', async () => (await store.streamVersion('notes')) === 2)
    await runner.stop()
    const [dead] = await readTopic(log, 'es-notes-sink-dlq')
    assert.deepEqual(JSON.parse(Buffer.from(dead!.value!).toString()), { kind: 'not an event' })
    assert.match(dead!.headers['sluice-error']!, /must be \{ type, data \}/)
    assert.deepEqual(
      (await store.readStream('notes')).map((e) => e.data),
      [{ n: 1 }, { n: 3 }],
    )
  })
})
