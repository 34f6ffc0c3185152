/**
 * Smoke test of a real Kafka broker through @platformatic/kafka, the client the Kafka backend will
 * use: topics, an idempotent producer, a consumer group, transactions and read_committed.
 *
 * Needs a running broker: `bash scripts/kafka.sh start` (127.0.0.1:9092; KAFKA_BROKERS overrides),
 * then `npm run test:kafka`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  Admin,
  type ConsumeOptions,
  Consumer,
  compatibilityPartitioner,
  defaultPartitioner,
  FetchIsolationLevels,
  type Message,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka'
import { partitionForKey } from '../../../src/log/partitioner.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = `${Date.now().toString(36)}-${process.pid}`
const PARTITIONS = 3
const plainTopic = `sluice-smoke-${run}`
const txTopic = `sluice-smoke-tx-${run}`

type StringMessage = Message<string, string, string, string>
type StringConsumeOptions = ConsumeOptions<string, string, string, string>

const closers: (() => Promise<unknown>)[] = []
const admin = new Admin({ clientId: 'sluice-smoke-admin', bootstrapBrokers: brokers })

function producer(clientId: string, transactionalId?: string): Producer<string, string, string, string> {
  const p = new Producer({
    clientId,
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    // Kafka's own partitioner (murmur2 & 0x7fffffff). The client's default uses the unsigned hash,
    // which puts about half the keys on other partitions than Java clients and the embedded log do.
    partitioner: compatibilityPartitioner,
    serializers: stringSerializers,
    ...(transactionalId === undefined ? {} : { transactionalId }),
  })
  closers.push(() => p.close())
  return p
}

function consumer(groupId: string): Consumer<string, string, string, string> {
  const c = new Consumer({
    groupId,
    clientId: groupId,
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
    maxWaitTime: 200,
  })
  closers.push(() => c.close(true))
  return c
}

/** Reads from a fresh group until `done` says so; fails after `timeoutMs`. */
async function consumeUntil(
  c: Consumer<string, string, string, string>,
  options: Omit<StringConsumeOptions, 'mode'>,
  done: (seen: StringMessage[]) => boolean,
  timeoutMs = 60_000,
): Promise<StringMessage[]> {
  const stream = await c.consume({ mode: MessagesStreamModes.EARLIEST, autocommit: false, ...options })
  const seen: StringMessage[] = []
  const timer = setTimeout(() => stream.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
  try {
    for await (const message of stream) {
      seen.push(message)
      if (done(seen)) break
    }
  } catch (error) {
    const detail = seen.map((m) => `${m.partition}/${m.offset}:${m.key}`).join(' ')
    throw new Error(
      `consumer ${c.groupId} read ${seen.length} records (${detail}): ${(error as Error).message}`,
    )
  } finally {
    clearTimeout(timer)
  }
  return seen
}

/** Waits until every partition of each topic has a leader. */
async function waitForLeaders(topics: string[]): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const metadata = await admin.metadata({ topics, forceUpdate: true })
    const ready = topics.every((t) => {
      const partitions = metadata.topics.get(t)?.partitions ?? []
      return partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0)
    })
    if (ready) return
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

before(async () => {
  try {
    await admin.metadata({ topics: [], forceUpdate: true })
  } catch (error) {
    throw new Error(
      `no Kafka broker answers at ${brokers.join(',')} (start one with 'bash scripts/kafka.sh start'): ${(error as Error).message}`,
    )
  }
  await admin.createTopics({ topics: [plainTopic, txTopic], partitions: PARTITIONS, replicas: 1 })
  await waitForLeaders([plainTopic, txTopic])
})

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {})
  await admin.deleteTopics({ topics: [plainTopic, txTopic] }).catch((error) => {
    console.error(`could not delete the smoke topics: ${(error as Error).message}`)
  })
  const left: string[] = await admin.listTopics().catch(() => [])
  await admin.close()
  assert.ok(!left.includes(plainTopic) && !left.includes(txTopic), 'the smoke topics are deleted')
})

describe('Kafka broker smoke test', () => {
  test('keyed records from an idempotent producer land on murmur2 partitions and come back through a group', async (t) => {
    const keys = [...Array.from({ length: 60 }, (_, i) => `user-${i}`), '', 'ключ', '🔑', 'a'.repeat(300)]
    const records = keys.flatMap((key) => [0, 1].map((n) => ({ key, value: `${key}#${n}` })))
    const p = producer('sluice-smoke-idempotent')
    const result = await p.send({ messages: records.map((r) => ({ topic: plainTopic, ...r })) })
    assert.ok(p.producerId !== undefined && p.producerId >= 0n, 'the producer got a producer id')
    assert.equal(result.offsets?.length, PARTITIONS, 'the batch spread over all partitions')

    const expected = (key: string) => partitionForKey(Buffer.from(key), PARTITIONS)
    const disagreeing = keys.filter(
      (key) => defaultPartitioner(undefined as never, Buffer.from(key)) % PARTITIONS !== expected(key),
    )
    t.diagnostic(
      `the client's default partitioner disagrees with Kafka's for ${disagreeing.length}/${keys.length} keys`,
    )

    const group = `sluice-smoke-group-${run}`
    const c = consumer(group)
    const seen = await consumeUntil(c, { topics: [plainTopic] }, (s) => s.length >= records.length)
    assert.equal(seen.length, records.length)
    for (const m of seen) {
      assert.equal(m.topic, plainTopic)
      assert.equal(m.partition, expected(m.key), `key ${JSON.stringify(m.key)} is on Kafka's partition`)
    }
    // Every record arrives once, and each key's records in the order they were produced.
    assert.deepEqual(
      seen.map((m) => `${m.key}=${m.value}`).sort(),
      records.map((r) => `${r.key}=${r.value}`).sort(),
    )
    for (const key of keys) {
      assert.deepEqual(
        seen.filter((m) => m.key === key).map((m) => m.value),
        [`${key}#0`, `${key}#1`],
      )
    }
    // Offsets are dense per partition from 0 (no duplicates from retries).
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const offsets = seen.filter((m) => m.partition === partition).map((m) => m.offset)
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => BigInt(i)),
      )
    }

    // Commit the group's position and read it back from the group coordinator.
    const last = new Map<number, StringMessage>()
    for (const m of seen) last.set(m.partition, m)
    for (const m of last.values()) await m.commit()
    const committed = await admin.listConsumerGroupOffsets({ groups: [group] })
    const partitions = committed[0]?.topics.find((topic) => topic.name === plainTopic)?.partitions ?? []
    assert.deepEqual(
      partitions
        .map((p) => [p.partitionIndex, p.committedOffset])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
      [...last.values()].map((m) => [m.partition, m.offset + 1n]).sort((a, b) => Number(a[0]) - Number(b[0])),
    )
  })

  test('a read_committed consumer sees committed transactions only', async () => {
    const committing = producer('sluice-smoke-tx-commit', `sluice-smoke-commit-${run}`)
    const aborting = producer('sluice-smoke-tx-abort', `sluice-smoke-abort-${run}`)
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`)

    // Both transactions are open at once, so their records interleave in the partitions.
    const txCommit = await committing.beginTransaction()
    const txAbort = await aborting.beginTransaction()
    await txAbort.send({ messages: keys.map((key) => ({ topic: txTopic, key, value: `aborted:${key}` })) })
    await txCommit.send({ messages: keys.map((key) => ({ topic: txTopic, key, value: `committed:${key}` })) })
    await txAbort.send({
      messages: keys.map((key) => ({ topic: txTopic, key, value: `aborted-again:${key}` })),
    })
    await txAbort.abort()
    await txCommit.commit()

    // A last committed transaction puts an end marker on every partition: a consumer that has read
    // the markers has passed every record the two transactions above wrote.
    const txEnd = await committing.beginTransaction()
    await txEnd.send({
      messages: Array.from({ length: PARTITIONS }, (_, partition) => ({
        topic: txTopic,
        partition,
        key: 'end',
        value: `end:${partition}`,
      })),
    })
    await txEnd.commit()

    const readToEnd = (s: StringMessage[]) => s.filter((m) => m.key === 'end').length === PARTITIONS
    const committedReader = consumer(`sluice-smoke-rc-${run}`)
    const readCommitted = await consumeUntil(
      committedReader,
      { topics: [txTopic], isolationLevel: FetchIsolationLevels.READ_COMMITTED },
      readToEnd,
    )
    assert.deepEqual(
      readCommitted.map((m) => m.value).sort(),
      [
        ...keys.map((key) => `committed:${key}`),
        ...Array.from({ length: PARTITIONS }, (_, p) => `end:${p}`),
      ].sort(),
    )
    for (const m of readCommitted) {
      if (m.key !== 'end') assert.equal(m.partition, partitionForKey(Buffer.from(m.key), PARTITIONS))
    }

    // The aborted records were written all the same: read_uncommitted sees them.
    const uncommittedReader = consumer(`sluice-smoke-ru-${run}`)
    const readUncommitted = await consumeUntil(
      uncommittedReader,
      { topics: [txTopic], isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED },
      readToEnd,
    )
    assert.equal(readUncommitted.length, keys.length * 3 + PARTITIONS)
    assert.equal(readUncommitted.filter((m) => m.value.startsWith('aborted')).length, keys.length * 2)
  })
})
