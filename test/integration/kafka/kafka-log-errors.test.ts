/**
 * Kafka-only behavior of the Kafka Log backend: error paths that need a real (or a missing)
 * broker, fencing of transactional producers, and read_committed against transactions written
 * by another client. Needs a running broker: `bash scripts/kafka.sh start`, then `npm run test:kafka`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Producer as ClientProducer, compatibilityPartitioner } from '@platformatic/kafka'
import { isSluiceError, type SluiceErrorCode } from '../../../src/errors.ts'
import { type KafkaLog, openKafkaLog } from '../../../src/log/kafka/index.ts'
import type { LogRecord } from '../../../src/log/types.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = `${Date.now().toString(36)}-${process.pid}`
const enc = new TextEncoder()
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())

function rejectsWith(code: SluiceErrorCode, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(isSluiceError(error, code), `expected ${code}, got ${(error as Error)?.stack ?? error}`)
    if (message) assert.match((error as Error).message, message)
    return true
  }
}

let log: KafkaLog
const topics: string[] = []
const closers: Array<() => Promise<unknown>> = []

async function topic(name: string, partitions = 1): Promise<string> {
  const full = `kafka-errors-${name}-${run}`
  await log.createTopic(full, { partitions })
  topics.push(full)
  return full
}

before(async () => {
  log = await openKafkaLog({ brokers, clientId: 'sluice-kafka-errors' })
})

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {})
  for (const t of topics) await log.deleteTopic(t).catch(() => {})
  await log.close()
})

describe('Kafka log: errors', () => {
  test('an unreachable broker fails fast with SLUICE_BROKER_UNAVAILABLE', async () => {
    const started = Date.now()
    await assert.rejects(
      openKafkaLog({ brokers: ['127.0.0.1:1'], connectTimeoutMs: 1000, retryDelayMs: 100 }),
      rejectsWith('SLUICE_BROKER_UNAVAILABLE', /127\.0\.0\.1:1.*scripts\/kafka\.sh start/s),
    )
    const elapsed = Date.now() - started
    assert.ok(elapsed < 5000, `failed after ${elapsed} ms`)
  })

  test('a broker address that is not host:port is refused before connecting', async () => {
    await assert.rejects(
      openKafkaLog({ brokers: ['localhost'] }),
      rejectsWith('SLUICE_INVALID_ARGUMENT', /host:port/),
    )
    await assert.rejects(openKafkaLog({ brokers: [] }), rejectsWith('SLUICE_INVALID_ARGUMENT'))
  })

  test('producing to a missing topic fails with SLUICE_UNKNOWN_TOPIC, naming it', async () => {
    const missing = `kafka-errors-missing-${run}`
    const started = Date.now()
    await assert.rejects(
      log.producer().send(missing, { value: enc.encode('x') }),
      rejectsWith('SLUICE_UNKNOWN_TOPIC', new RegExp(`"${missing}".*create it first`)),
    )
    const tx = log.transaction({ id: `kafka-errors-missing-${run}` })
    tx.send(missing, { value: enc.encode('x') })
    await assert.rejects(tx.commit(), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
    assert.ok(Date.now() - started < 5000, 'no waiting for the topic to appear')
  })

  test('a record over the topic limit is refused before anything is sent', async () => {
    const t = `kafka-errors-small-${run}`
    await log.createTopic(t, { partitions: 1, maxRecordBytes: 10_000 })
    topics.push(t)
    await assert.rejects(
      log.producer().send(t, [{ value: enc.encode('fits') }, { value: new Uint8Array(20_000) }]),
      rejectsWith('SLUICE_RECORD_TOO_LARGE'),
    )
    assert.deepEqual(await log.fetch({ topic: t, partition: 0 }, 0), [])
  })
})

describe('Kafka log: transactions', () => {
  test('a second transactional producer with the same id fences the first', async () => {
    const t = await topic('fence')
    const id = `kafka-errors-fence-${run}`
    const other = await openKafkaLog({ brokers, clientId: 'sluice-kafka-errors-2' })
    closers.push(() => other.close())

    const first = log.transaction({ id })
    first.send(t, { value: enc.encode('first') })
    await first.commit()

    const second = other.transaction({ id })
    second.send(t, { value: enc.encode('second') })
    await second.commit()

    const zombie = log.transaction({ id })
    zombie.send(t, { value: enc.encode('zombie') })
    await assert.rejects(
      zombie.commit(),
      rejectsWith('SLUICE_PRODUCER_FENCED', new RegExp(`"${id}".*fenced`)),
    )

    const read: LogRecord[] = []
    for (let offset = 0; ; ) {
      const batch = await log.fetch({ topic: t, partition: 0 }, offset, {
        waitMs: read.length < 2 ? 2000 : 0,
      })
      if (batch.length === 0) break
      read.push(...batch)
      offset = batch[batch.length - 1]!.offset + 1
    }
    assert.deepEqual(
      read.map((r) => text(r.value)),
      ['first', 'second'],
      'nothing of the fenced transaction is visible',
    )
  })

  test('fetch and consumers skip aborted transactions and transaction markers', async () => {
    const t = await topic('aborts')
    // Another client's transactional producer: several aborted transactions of ONE producer
    // land in the same fetch range, between committed ones.
    const client = new ClientProducer({
      clientId: 'sluice-kafka-errors-raw',
      bootstrapBrokers: brokers,
      idempotent: true,
      transactionalId: `kafka-errors-raw-${run}`,
      partitioner: compatibilityPartitioner,
      // Back-to-back transactions meet CONCURRENT_TRANSACTIONS while markers are written.
      retryDelay: 20,
    })
    closers.push(() => client.close())
    const write = async (values: string[], commit: boolean) => {
      const tx = await client.beginTransaction()
      await tx.send({ messages: values.map((v) => ({ topic: t, partition: 0, value: Buffer.from(v) })) })
      await (commit ? tx.commit() : tx.abort())
    }
    await write(['c1', 'c2'], true)
    await write(['a1', 'a2'], false)
    await write(['c3'], true)
    await write(['a3'], false)
    await write(['a4', 'a5'], false)
    await write(['c4'], true)
    // A plain (non-transactional) append after the transactions.
    await log.producer().send(t, { value: enc.encode('plain') })

    const expected = ['c1', 'c2', 'c3', 'c4', 'plain']
    const fetched: LogRecord[] = []
    for (let offset = 0; fetched.length < expected.length; ) {
      const batch = await log.fetch({ topic: t, partition: 0 }, offset, { waitMs: 2000 })
      assert.ok(batch.length > 0, `fetch from ${offset} found the next committed record`)
      fetched.push(...batch)
      offset = batch[batch.length - 1]!.offset + 1
    }
    assert.deepEqual(
      fetched.map((r) => text(r.value)),
      expected,
    )
    assert.deepEqual(await log.fetch({ topic: t, partition: 0 }, fetched[fetched.length - 1]!.offset + 1), [])
    // Without a wait too: a read that starts at an aborted range (right after c2's marker)
    // looks past it instead of answering "nothing", which a reader would take for the end.
    const afterC2 = fetched[1]!.offset + 1
    const noWait = await log.fetch({ topic: t, partition: 0 }, afterC2, { waitMs: 0, maxRecords: 1 })
    assert.deepEqual(
      noWait.map((r) => text(r.value)),
      ['c3'],
    )
    // From inside an aborted transaction (c2, commit marker, a1, a2, abort marker, c3), the next
    // record is the next committed one.
    const aborted = fetched.find((r) => text(r.value) === 'c2')!.offset + 2
    assert.deepEqual(
      (await log.fetch({ topic: t, partition: 0 }, aborted)).map((r) => text(r.value))[0],
      'c3',
    )

    const group = `kafka-errors-aborts-${run}`
    const consumer = log.consumer({ group, topics: [t] })
    closers.push(() => consumer.close())
    const polled: LogRecord[] = []
    const deadline = Date.now() + 30_000
    while (polled.length < expected.length && Date.now() < deadline)
      polled.push(...(await consumer.poll({ waitMs: 200 })))
    assert.deepEqual(
      polled.map((r) => text(r.value)),
      expected,
    )
    // The committed position is past the last marker: the group has no lag left.
    await consumer.commit()
    const latest = await log.resolveOffset({ topic: t, partition: 0 }, 'latest')
    assert.deepEqual([...(await log.committedOffsets(group, t))], [[0, latest]])
  })

  test('a group with live members elsewhere refuses plain offset commits, not transactional ones', async () => {
    const t = await topic('members')
    const group = `kafka-errors-members-${run}`
    const other = await openKafkaLog({ brokers, clientId: 'sluice-kafka-errors-3' })
    closers.push(() => other.close())
    const member = other.consumer({ group, topics: [t] })
    const deadline = Date.now() + 30_000
    while (member.assignment().length === 0 && Date.now() < deadline) await member.poll({ waitMs: 100 })
    assert.equal(member.assignment().length, 1)
    await assert.rejects(
      log.commitOffsets(group, [{ topic: t, partition: 0, offset: 0 }]),
      rejectsWith('SLUICE_INVALID_ARGUMENT', /live members/),
    )
    assert.deepEqual([...(await log.committedOffsets(group, t))], [], 'the refused commit wrote nothing')
    // A transaction may commit them without a membership (Kafka accepts a transactional offset
    // commit with no member for any group): that is how a process commits its own positions.
    const tx = log.transaction({ id: `kafka-errors-members-${run}` })
    tx.commitOffsets(group, [{ topic: t, partition: 0, offset: 0 }])
    await tx.commit()
    assert.deepEqual([...(await log.committedOffsets(group, t))], [[0, 0]])
    await member.close()
  })
})
