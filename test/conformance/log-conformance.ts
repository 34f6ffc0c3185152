/**
 * The Log conformance suite: what every backend of the `Log` interface must do, written against
 * the interface alone. `logConformance()` registers node:test blocks; a test file per backend
 * calls it with a way to open that backend (test/unit/log/conformance-embedded.test.ts,
 * test/integration/kafka/conformance-kafka.test.ts).
 *
 * Names are unique per run (a Kafka broker is shared and not wiped between runs), and every
 * topic a test creates is deleted at the end.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isSluiceError, type SluiceErrorCode } from '../../src/errors.ts'
import { partitionForKey } from '../../src/log/partitioner.ts'
import type {
  Assignor,
  Log,
  LogRecord,
  ProducerRecord,
  TopicConfig,
  TopicPartition,
} from '../../src/log/types.ts'
import { taskAssignor } from '../../src/runtime/group/assignor.ts'

export interface OpenedLog {
  log: Log
  /** Closes the log and removes what `open` made (a data directory). */
  cleanup(): Promise<void>
}

/** Where backends legitimately differ; the suite asserts the stricter behavior when a backend has it. */
export interface LogCapabilities {
  /** `describeTopic` counts each partition's stored bytes and batches (Kafka reports 0). */
  storageStats: boolean
  /**
   * Transaction markers take offsets (Kafka): a partition written by transactions has gaps in
   * its offsets. Without markers, transactional appends get dense offsets.
   */
  transactionMarkers: boolean
}

const enc = new TextEncoder()
const bytes = (s: string) => enc.encode(s)
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())

function rejectsWith(code: SluiceErrorCode) {
  return (error: unknown) => {
    assert.ok(isSluiceError(error, code), `expected ${code}, got ${(error as Error)?.stack ?? error}`)
    return true
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function logConformance(
  name: string,
  open: () => Promise<OpenedLog>,
  capabilities: LogCapabilities,
): void {
  describe(`Log conformance: ${name}`, () => {
    const run = `${Date.now().toString(36)}-${process.pid}`
    let opened: OpenedLog
    let log: Log
    let n = 0
    const created = new Set<string>()
    const unique = (what: string) => `conf-${what}-${run}-${++n}`

    async function topic(what: string, config: TopicConfig): Promise<string> {
      const name = unique(what)
      await log.createTopic(name, config)
      created.add(name)
      return name
    }

    /** Every committed record of a partition, from the start; waits up to `waitMs` for `count` of them. */
    async function readAll(tp: TopicPartition, count = 0, waitMs = 10_000): Promise<LogRecord[]> {
      const out: LogRecord[] = []
      let offset = await log.resolveOffset(tp, 'earliest')
      const deadline = Date.now() + waitMs
      for (;;) {
        const wait = out.length < count ? Math.max(0, deadline - Date.now()) : 0
        const batch = await log.fetch(tp, offset, { waitMs: wait })
        if (batch.length === 0 && (out.length >= count || Date.now() >= deadline)) return out
        out.push(...batch)
        if (batch.length > 0) offset = batch[batch.length - 1]!.offset + 1
      }
    }

    before(async () => {
      opened = await open()
      log = opened.log
    })

    after(async () => {
      for (const name of created) await log.deleteTopic(name).catch(() => {})
      await opened.cleanup()
    })

    describe('topics', () => {
      test('create, list, describe and delete', async () => {
        const orders = await topic('orders', { partitions: 3, retentionMs: 60_000, compact: false })
        const users = await topic('users', { partitions: 1, compact: true, maxRecordBytes: 2_000_000 })
        const listed = await log.listTopics()
        assert.ok(listed.includes(orders) && listed.includes(users), 'listTopics shows both topics')
        assert.deepEqual(listed, [...listed].sort(), 'listTopics is sorted')

        const d = await log.describeTopic(orders)
        assert.equal(d.name, orders)
        assert.equal(d.partitions, 3)
        assert.equal(d.retentionMs, 60_000)
        assert.equal(d.retentionBytes, null)
        assert.equal(d.compact, false)
        assert.deepEqual(
          d.partitionDetails.map((p) => [p.partition, p.startOffset, p.endOffset]),
          [
            [0, 0, 0],
            [1, 0, 0],
            [2, 0, 0],
          ],
        )
        const u = await log.describeTopic(users)
        assert.equal(u.compact, true)
        assert.equal(u.maxRecordBytes, 2_000_000)
        assert.equal(u.retentionMs, null, 'no retentionMs means keep forever')

        await log.producer().send(
          orders,
          [0, 1, 2, 3, 4].map((i) => ({ value: bytes(`v${i}`) })),
        )
        const after = await log.describeTopic(orders)
        assert.equal(
          after.partitionDetails.reduce((sum, p) => sum + p.endOffset, 0),
          5,
          'endOffset counts the appended records',
        )
        if (capabilities.storageStats) {
          for (const p of after.partitionDetails) {
            assert.equal(p.bytes > 0, p.endOffset > 0, `partition ${p.partition} reports its bytes`)
            assert.equal(p.batches > 0, p.endOffset > 0, `partition ${p.partition} reports its batches`)
          }
        }

        assert.equal(await log.hasTopic(orders), true)
        await log.deleteTopic(orders)
        created.delete(orders)
        assert.equal(await log.hasTopic(orders), false)
        assert.ok(!(await log.listTopics()).includes(orders))
        await assert.rejects(log.describeTopic(orders), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
      })

      test('errors: existing, unknown and invalid topics', async () => {
        const t = await topic('dupe', { partitions: 1 })
        await assert.rejects(log.createTopic(t, { partitions: 2 }), rejectsWith('SLUICE_TOPIC_EXISTS'))
        assert.equal((await log.describeTopic(t)).partitions, 1, 'the failed create changed nothing')
        const missing = unique('missing')
        await assert.rejects(log.deleteTopic(missing), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
        await assert.rejects(log.describeTopic(missing), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
        assert.equal(await log.hasTopic(missing), false)
        await assert.rejects(
          log.createTopic('bad name!', { partitions: 1 }),
          rejectsWith('SLUICE_INVALID_TOPIC_NAME'),
        )
        await assert.rejects(
          log.createTopic(unique('zero'), { partitions: 0 }),
          rejectsWith('SLUICE_INVALID_ARGUMENT'),
        )
        await assert.rejects(
          log.createTopic(unique('neg'), { partitions: 1, retentionMs: -5 }),
          rejectsWith('SLUICE_INVALID_ARGUMENT'),
        )
      })
    })

    describe('append and read', () => {
      test('deleteRecordsBefore moves the start offset; reads begin there', async () => {
        const t = await topic('purge', { partitions: 1 })
        const tp = { topic: t, partition: 0 }
        const producer = log.producer()
        // Three sends: on both backends, more than one batch.
        for (const range of [
          [0, 4],
          [4, 7],
          [7, 10],
        ] as const) {
          await producer.send(
            t,
            Array.from({ length: range[1] - range[0] }, (_, i) => ({ value: bytes(`v${range[0] + i}`) })),
          )
        }
        await producer.close()
        await log.deleteRecordsBefore(tp, 5)
        assert.equal(await log.resolveOffset(tp, 'earliest'), 5)
        assert.deepEqual(
          (await readAll(tp, 5)).map((r) => [r.offset, text(r.value)]),
          [5, 6, 7, 8, 9].map((o) => [o, `v${o}`]),
        )
        const [detail] = (await log.describeTopic(t)).partitionDetails
        assert.deepEqual([detail!.startOffset, detail!.endOffset], [5, 10])
        await log.deleteRecordsBefore(tp, 2) // below the start: nothing to do
        assert.equal(await log.resolveOffset(tp, 'earliest'), 5)
        await log.deleteRecordsBefore(tp, 10) // everything
        assert.equal(await log.resolveOffset(tp, 'earliest'), 10)
        await assert.rejects(log.deleteRecordsBefore(tp, 11), /11/, 'past the end is an error')
      })

      test('keyed records land on murmur2 partitions and read back in order', async () => {
        const t = await topic('keyed', { partitions: 4 })
        const records = Array.from({ length: 200 }, (_, i) => ({
          key: bytes(`k${i % 50}`),
          value: bytes(`v${i}`),
        }))
        const metadata = await log.producer().send(t, records)
        assert.equal(metadata.length, records.length)
        const expected = new Map<number, string[]>()
        for (const [i, m] of metadata.entries()) {
          assert.equal(
            m.partition,
            partitionForKey(records[i]!.key, 4),
            `record ${i} is on the murmur2 partition`,
          )
          const list = expected.get(m.partition) ?? []
          expected.set(m.partition, list)
          assert.equal(m.offset, list.length, `record ${i} gets the next offset of its partition`)
          list.push(`v${i}`)
        }
        assert.equal(expected.size, 4, 'the keys spread over all partitions')
        for (let partition = 0; partition < 4; partition++) {
          const read = await readAll({ topic: t, partition })
          assert.deepEqual(
            read.map((r) => text(r.value)),
            expected.get(partition),
          )
          assert.deepEqual(
            read.map((r) => r.offset),
            read.map((_, i) => i),
          )
          for (const r of read) {
            assert.equal(r.topic, t)
            assert.equal(r.partition, partition)
          }
        }
      })

      test('keys, values, tombstones, headers and timestamps round trip', async () => {
        const t = await topic('roundtrip', { partitions: 1 })
        const binary = Uint8Array.from({ length: 256 }, (_, i) => i)
        const before = Date.now()
        const records: ProducerRecord[] = [
          {
            key: bytes('a'),
            value: bytes('1'),
            headers: { trace: 'abc', ключ: 'значение 🔑' },
            timestamp: 1_600_000_000_000,
          },
          { key: bytes('a'), value: null },
          { key: binary, value: binary },
          { value: bytes('no key') },
          { key: bytes('empty'), value: new Uint8Array(0) },
        ]
        await log.producer().send(t, records)
        const after = Date.now()
        const read = await readAll({ topic: t, partition: 0 })
        assert.equal(read.length, records.length)
        assert.deepEqual(read[0]!.headers, { trace: 'abc', ключ: 'значение 🔑' })
        assert.equal(read[0]!.timestamp, 1_600_000_000_000)
        assert.equal(text(read[0]!.key), 'a')
        assert.equal(read[1]!.value, null, 'a null value stays null (a tombstone)')
        assert.equal(text(read[1]!.key), 'a')
        assert.deepEqual(Buffer.from(read[2]!.key!), Buffer.from(binary))
        assert.deepEqual(Buffer.from(read[2]!.value!), Buffer.from(binary))
        assert.equal(read[3]!.key, null)
        assert.equal(text(read[3]!.value), 'no key')
        assert.equal(read[4]!.value?.length, 0, 'an empty value is empty, not null')
        for (const r of read.slice(1)) {
          assert.deepEqual(r.headers, {})
          assert.ok(
            r.timestamp >= before - 1000 && r.timestamp <= after + 1000,
            'a missing timestamp is the append time',
          )
        }
      })

      test('string keys and values are written as their UTF-8 bytes, and partition as those bytes do', async () => {
        const t = await topic('strings', { partitions: 4 })
        // Multi-byte text, an empty string, and a lone surrogate (written as U+FFFD, as Buffer.from writes it).
        const keys = ['k-ascii', 'k-Zürich-€', '🐟', '', 'k-\ud800']
        const values = ['{"n":1}', '{"city":"Zürich","€":"🐟"}', 'plain', '', 'x\ud800y']
        await log.producer().send(
          t,
          keys.map((key, i) => ({ key, value: values[i]! })),
        )
        // The same records as bytes land on the same partitions with the same bytes.
        await log.producer().send(
          t,
          keys.map((key, i) => ({ key: Buffer.from(key), value: Buffer.from(values[i]!) })),
        )
        const byPartition = new Map<number, LogRecord[]>()
        for (let p = 0; p < 4; p++) byPartition.set(p, await readAll({ topic: t, partition: p }))
        const seen = [...byPartition.values()].flat()
        assert.equal(seen.length, 2 * keys.length)
        for (const [i, key] of keys.entries()) {
          const expected = partitionForKey(Buffer.from(key), 4)
          const found = byPartition.get(expected)!.filter((r) => Buffer.from(r.key!).equals(Buffer.from(key)))
          assert.equal(found.length, 2, `key ${JSON.stringify(key)}: both sends on partition ${expected}`)
          for (const r of found) {
            assert.ok(r.key instanceof Uint8Array && r.value instanceof Uint8Array, 'read back as bytes')
            assert.deepEqual(Buffer.from(r.value!), Buffer.from(values[i]!))
          }
        }
      })

      test('an explicit partition overrides the key; a bad one rejects the whole send', async () => {
        const t = await topic('explicit', { partitions: 3 })
        const key = bytes('some-key')
        const target = (partitionForKey(key, 3) + 1) % 3
        const [m] = await log.producer().send(t, { key, value: bytes('x'), partition: target })
        assert.equal(m!.partition, target)
        const read = await readAll({ topic: t, partition: target })
        assert.deepEqual(
          read.map((r) => text(r.value)),
          ['x'],
        )
        await assert.rejects(
          log.producer().send(t, [
            { value: bytes('ok'), partition: 0 },
            { value: bytes('bad'), partition: 3 },
          ]),
          rejectsWith('SLUICE_INVALID_ARGUMENT'),
        )
        const d = await log.describeTopic(t)
        assert.equal(
          d.partitionDetails.reduce((s, p) => s + p.endOffset, 0),
          1,
          'nothing of the rejected send was written',
        )
      })

      test('large sends are acknowledged whole and read back complete', async () => {
        const t = await topic('large', { partitions: 3 })
        const payload = new Uint8Array(1024).fill(7)
        const records = Array.from({ length: 3000 }, (_, i) => ({ key: bytes(`k${i}`), value: payload }))
        records.push({ key: bytes('big'), value: new Uint8Array(600 * 1024).fill(9) })
        const metadata = await log.producer().send(t, records)
        assert.equal(metadata.length, records.length)
        let total = 0
        for (let partition = 0; partition < 3; partition++) {
          const offsets = metadata.filter((m) => m.partition === partition).map((m) => m.offset)
          assert.deepEqual(
            offsets,
            offsets.map((_, i) => i),
            `partition ${partition} offsets are dense and in order`,
          )
          const read = await readAll({ topic: t, partition })
          assert.equal(read.length, offsets.length)
          total += read.length
        }
        assert.equal(total, records.length)
        const big = metadata[metadata.length - 1]!
        const [record] = await log.fetch({ topic: t, partition: big.partition }, big.offset, {
          maxRecords: 1,
        })
        assert.equal(record?.value?.length, 600 * 1024)
      })

      test('fetch from a middle offset, with maxRecords, at the end and past it', async () => {
        const t = await topic('middle', { partitions: 1 })
        await log.producer().send(
          t,
          Array.from({ length: 10 }, (_, i) => ({ value: bytes(`v${i}`), partition: 0 })),
        )
        const tp = { topic: t, partition: 0 }
        assert.deepEqual(
          (await log.fetch(tp, 4)).map((r) => [r.offset, text(r.value)]),
          [4, 5, 6, 7, 8, 9].map((o) => [o, `v${o}`]),
        )
        assert.deepEqual(
          (await log.fetch(tp, 4, { maxRecords: 3 })).map((r) => r.offset),
          [4, 5, 6],
        )
        assert.deepEqual(await log.fetch(tp, 10), [], 'the end of the partition is empty, not an error')
        await assert.rejects(log.fetch(tp, 11), rejectsWith('SLUICE_OFFSET_OUT_OF_RANGE'))
        await assert.rejects(log.fetch({ topic: t, partition: 1 }, 0), rejectsWith('SLUICE_INVALID_ARGUMENT'))
      })

      test('a long-poll fetch wakes on an append, and times out empty without one', async () => {
        const t = await topic('longpoll', { partitions: 2 })
        const tp = { topic: t, partition: 1 }
        let started = Date.now()
        assert.deepEqual(await log.fetch(tp, 0, { waitMs: 300 }), [])
        assert.ok(Date.now() - started >= 250, 'the fetch waited for waitMs')
        const producer = log.producer()
        started = Date.now()
        const waiting = log.fetch(tp, 0, { waitMs: 20_000 })
        setTimeout(() => void producer.send(t, { value: bytes('wake'), partition: 1 }), 200)
        const records = await waiting
        const elapsed = Date.now() - started
        assert.deepEqual(
          records.map((r) => text(r.value)),
          ['wake'],
        )
        assert.ok(elapsed >= 150 && elapsed < 10_000, `woke after ${elapsed} ms, on the append`)
      })

      test('resolveOffset: earliest, latest, offsets and timestamps', async () => {
        const t = await topic('resolve', { partitions: 1 })
        const tp = { topic: t, partition: 0 }
        assert.equal(await log.resolveOffset(tp, 'earliest'), 0)
        assert.equal(await log.resolveOffset(tp, 'latest'), 0)
        await log.producer().send(
          t,
          [1000, 2000, 3000].map((timestamp) => ({ value: bytes(`${timestamp}`), timestamp })),
        )
        assert.equal(await log.resolveOffset(tp, 'earliest'), 0)
        assert.equal(await log.resolveOffset(tp, 'latest'), 3)
        assert.equal(await log.resolveOffset(tp, { offset: 2 }), 2)
        assert.equal(await log.resolveOffset(tp, { offset: 99 }), 3, 'an offset past the end is the end')
        assert.equal(await log.resolveOffset(tp, { timestamp: 0 }), 0)
        assert.equal(
          await log.resolveOffset(tp, { timestamp: 1500 }),
          1,
          'the first record at or after the time',
        )
        assert.equal(await log.resolveOffset(tp, { timestamp: 3000 }), 2)
        assert.equal(
          await log.resolveOffset(tp, { timestamp: 4000 }),
          3,
          'a time after every record is the end',
        )
      })

      test('unknown topics fail with SLUICE_UNKNOWN_TOPIC', async () => {
        const missing = unique('nowhere')
        const tp = { topic: missing, partition: 0 }
        await assert.rejects(log.fetch(tp, 0), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
        await assert.rejects(log.resolveOffset(tp, 'latest'), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
        await assert.rejects(
          log.producer().send(missing, { value: bytes('x') }),
          rejectsWith('SLUICE_UNKNOWN_TOPIC'),
        )
        await assert.rejects(log.committedOffsets(unique('g'), missing), rejectsWith('SLUICE_UNKNOWN_TOPIC'))
      })

      test('an idempotent producer with an id appends each record once, in order', async () => {
        const t = await topic('idempotent', { partitions: 2 })
        const producer = log.producer({ id: unique('producer') })
        const sends = Array.from({ length: 5 }, (_, s) =>
          producer.send(
            t,
            Array.from({ length: 20 }, (_, i) => ({ value: bytes(`s${s}-${i}`), partition: i % 2 })),
          ),
        )
        const metadata = (await Promise.all(sends)).flat()
        await producer.flush()
        await producer.close()
        assert.equal(metadata.length, 100)
        const d = await log.describeTopic(t)
        assert.equal(
          d.partitionDetails.reduce((s, p) => s + p.endOffset, 0),
          100,
          'no record was appended twice',
        )
        for (const partition of [0, 1]) {
          const read = await readAll({ topic: t, partition })
          const values = read.map((r) => text(r.value))
          assert.equal(new Set(values).size, values.length, 'each value once')
          // Sends from one producer keep their call order within a partition.
          assert.deepEqual(
            values,
            Array.from({ length: 5 }, (_, s) =>
              Array.from({ length: 10 }, (_, j) => `s${s}-${2 * j + partition}`),
            ).flat(),
          )
          const acknowledged = metadata.filter((m) => m.partition === partition).map((m) => m.offset)
          assert.deepEqual(
            acknowledged.sort((a, b) => a - b),
            read.map((r) => r.offset),
          )
        }
      })
    })

    describe('consumer groups', () => {
      async function drain(consumer: ReturnType<Log['consumer']>, count: number): Promise<LogRecord[]> {
        const out: LogRecord[] = []
        return eventually(`${count} records`, async () => {
          out.push(...(await consumer.poll({ waitMs: 100 })))
          return out.length >= count ? out : undefined
        })
      }

      test('two members split the partitions; a member leaving hands its partitions over', async () => {
        const t = await topic('group', { partitions: 4 })
        const group = unique('group')
        const c1 = log.consumer({ group, topics: [t] })
        const c2 = log.consumer({ group, topics: [t] })
        try {
          const owned = await eventually('a balanced assignment', async () => {
            await Promise.all([c1.poll({ waitMs: 50 }), c2.poll({ waitMs: 50 })])
            const a1 = c1.assignment().map((tp) => tp.partition)
            const a2 = c2.assignment().map((tp) => tp.partition)
            const all = [...a1, ...a2].sort()
            const split = a1.length > 0 && a2.length > 0 && all.join() === '0,1,2,3'
            return split ? { a1, a2 } : undefined
          })
          assert.equal(owned.a1.length + owned.a2.length, 4)
          await log.producer().send(
            t,
            Array.from({ length: 40 }, (_, i) => ({ value: bytes(`v${i}`), partition: i % 4 })),
          )
          const seen1: LogRecord[] = []
          const seen2: LogRecord[] = []
          await eventually('all 40 records between the two members', async () => {
            const [r1, r2] = await Promise.all([c1.poll({ waitMs: 100 }), c2.poll({ waitMs: 100 })])
            seen1.push(...r1)
            seen2.push(...r2)
            return seen1.length + seen2.length >= 40 ? true : undefined
          })
          assert.ok(
            seen1.every((r) => owned.a1.includes(r.partition)),
            'member 1 reads only its partitions',
          )
          assert.ok(
            seen2.every((r) => owned.a2.includes(r.partition)),
            'member 2 reads only its partitions',
          )
          assert.deepEqual(
            [...seen1, ...seen2].map((r) => text(r.value)).sort(),
            Array.from({ length: 40 }, (_, i) => `v${i}`).sort(),
          )
          await c1.commit()
          await c2.commit()
          const generation = c1.generation()
          await c2.close()
          await eventually('member 1 to take over every partition', async () => {
            await c1.poll({ waitMs: 50 })
            return c1.assignment().length === 4 ? true : undefined
          })
          assert.ok(c1.generation() > generation, 'the hand-over is a new generation')
          await log.producer().send(
            t,
            [0, 1, 2, 3].map((partition) => ({ value: bytes(`after-${partition}`), partition })),
          )
          const rest = await drain(c1, 4)
          assert.deepEqual(
            rest.map((r) => text(r.value)).sort(),
            ['after-0', 'after-1', 'after-2', 'after-3'],
            'member 1 resumes the handed-over partitions at the committed offsets',
          )
        } finally {
          await c1.close()
          await c2.close()
        }
      })

      test('a custom assignor sees what each member owned, and can keep it there', async () => {
        const t = await topic('sticky', { partitions: 6 })
        const group = unique('sticky')
        // Sluice's task assignor (sticky within quota), recording what it was told each time.
        const inner = taskAssignor([{ id: 0, topics: [t] }])
        const seen: Array<{ owned: string[]; assigned: string[] }> = []
        const assignor: Assignor = (members, partitionsOf) => {
          const decided = inner(members, partitionsOf)
          const ps = (tps: readonly TopicPartition[] | undefined) =>
            (tps ?? [])
              .map((tp) => tp.partition)
              .sort((a, b) => a - b)
              .join(',')
          seen.push({
            owned: members.map((m) => ps(m.owned)).sort(),
            assigned: members.map((m) => ps(decided.get(m.id))).sort(),
          })
          return decided
        }
        const members: Array<ReturnType<Log['consumer']>> = []
        const parts = (c: ReturnType<Log['consumer']>) => c.assignment().map((tp) => tp.partition)
        const settle = (n: number, what: string) =>
          eventually(what, async () => {
            await Promise.all(members.map((c) => c.poll({ waitMs: 50 })))
            const counts = members.map((c) => parts(c).length)
            const total = counts.reduce((a, b) => a + b, 0)
            const gens = new Set(members.map((c) => c.generation()))
            return members.length === n && total === 6 && counts.every((k) => k > 0) && gens.size === 1
              ? members.map(parts)
              : undefined
          })
        try {
          members.push(log.consumer({ group, topics: [t], assignor }))
          await settle(1, 'one member owning all six partitions')
          members.push(log.consumer({ group, topics: [t], assignor }))
          const two = await settle(2, 'two members, three partitions each')
          members.push(log.consumer({ group, topics: [t], assignor }))
          const three = await settle(3, 'three members, two partitions each')
          assert.deepEqual(
            three.map((p) => p.length),
            [2, 2, 2],
          )
          // What the first two owned before the third joined, the assignor was told (in the
          // first round with three members: an incremental rebalance on Kafka has a second one,
          // after the moved partitions were given up)…
          const joined = seen.find((s) => s.owned.length === 3)!
          assert.deepEqual(joined.owned, ['', ...two.map((p) => p.join(','))].sort())
          // …so each keeps two of its three partitions and gives one to the newcomer.
          for (const i of [0, 1])
            assert.ok(
              three[i]!.every((p) => two[i]!.includes(p)),
              `member ${i + 1} kept its partitions (${two[i]} → ${three[i]})`,
            )
        } finally {
          for (const c of members) await c.close()
        }
      })

      test('a new member resumes from the committed offsets', async () => {
        const t = await topic('resume', { partitions: 1 })
        const group = unique('resume')
        await log.producer().send(
          t,
          Array.from({ length: 20 }, (_, i) => ({ value: bytes(`v${i}`) })),
        )
        const first = log.consumer({ group, topics: [t] })
        const got: LogRecord[] = []
        await eventually('7 records', async () => {
          got.push(...(await first.poll({ waitMs: 100, maxRecords: 7 - got.length })))
          return got.length >= 7 ? true : undefined
        })
        assert.deepEqual(
          got.map((r) => r.offset),
          [0, 1, 2, 3, 4, 5, 6],
        )
        await first.commit()
        await first.close()
        assert.deepEqual([...(await log.committedOffsets(group, t))], [[0, 7]])

        const second = log.consumer({ group, topics: [t] })
        try {
          const rest = await drain(second, 13)
          assert.deepEqual(
            rest.map((r) => r.offset),
            Array.from({ length: 13 }, (_, i) => i + 7),
          )
        } finally {
          await second.close()
        }
      })

      test('reset latest skips what was there; seek moves a position', async () => {
        const t = await topic('latest', { partitions: 1 })
        const group = unique('latest')
        const producer = log.producer()
        await producer.send(
          t,
          [0, 1, 2, 3, 4].map((i) => ({ value: bytes(`old${i}`) })),
        )
        const c = log.consumer({ group, topics: [t], reset: 'latest' })
        try {
          await eventually('the assignment', async () => {
            const records = await c.poll({ waitMs: 50 })
            assert.deepEqual(records, [], 'nothing from before the member joined')
            return c.assignment().length === 1 ? true : undefined
          })
          assert.deepEqual(await c.poll({ waitMs: 50 }), [])
          await producer.send(
            t,
            [0, 1, 2].map((i) => ({ value: bytes(`new${i}`) })),
          )
          const fresh = await drain(c, 3)
          assert.deepEqual(
            fresh.map((r) => text(r.value)),
            ['new0', 'new1', 'new2'],
          )
          c.seek({ topic: t, partition: 0 }, 3)
          const again = await drain(c, 5)
          assert.deepEqual(
            again.map((r) => r.offset),
            [3, 4, 5, 6, 7],
          )
          assert.throws(() => c.seek({ topic: t, partition: 5 }, 0), rejectsWith('SLUICE_INVALID_ARGUMENT'))
        } finally {
          await c.close()
        }
      })

      test('commitOffsets and committedOffsets outside a membership', async () => {
        const t = await topic('offsets', { partitions: 2 })
        const group = unique('offsets')
        assert.deepEqual([...(await log.committedOffsets(group, t))], [])
        await log.producer().send(
          t,
          [0, 1, 2].map((i) => ({ value: bytes(`v${i}`), partition: 1 })),
        )
        await log.commitOffsets(group, [{ topic: t, partition: 1, offset: 2 }])
        assert.deepEqual([...(await log.committedOffsets(group, t))], [[1, 2]])
        const c = log.consumer({ group, topics: [t] })
        try {
          const records = await drain(c, 1)
          assert.deepEqual(
            records.map((r) => [r.partition, r.offset]),
            [[1, 2]],
            'a member starts at the committed offset',
          )
        } finally {
          await c.close()
        }
      })
    })

    describe('transactions', () => {
      test('appends and group offsets commit together', async () => {
        const input = await topic('tx-in', { partitions: 1 })
        const output = await topic('tx-out', { partitions: 2 })
        const group = unique('tx')
        const id = unique('tx-id')
        const tx = log.transaction({ id })
        const records = Array.from({ length: 6 }, (_, i) => ({
          key: bytes(`k${i}`),
          value: bytes(`out${i}`),
        }))
        tx.send(output, records)
        tx.commitOffsets(group, [{ topic: input, partition: 0, offset: 3 }])
        for (const partition of [0, 1]) {
          assert.deepEqual(
            await log.fetch({ topic: output, partition }, 0),
            [],
            'nothing visible before commit',
          )
        }
        assert.deepEqual([...(await log.committedOffsets(group, input))], [])
        const results = await tx.commit()
        const metadata = results.get(output)!
        assert.equal(metadata.length, records.length)
        for (const [i, m] of metadata.entries())
          assert.equal(m.partition, partitionForKey(records[i]!.key, 2))
        for (const partition of [0, 1]) {
          const expected = metadata.flatMap((m, i) =>
            m.partition === partition ? [[m.offset, `out${i}`]] : [],
          )
          const read = await readAll({ topic: output, partition }, expected.length)
          assert.deepEqual(
            read.map((r) => [r.offset, text(r.value)]),
            expected,
          )
        }
        assert.deepEqual([...(await log.committedOffsets(group, input))], [[0, 3]])
        await assert.rejects(tx.commit(), rejectsWith('SLUICE_TRANSACTION_STATE'))
      })

      test('an aborted transaction is invisible; a failed commit writes nothing', async () => {
        const t = await topic('tx-abort', { partitions: 1 })
        const group = unique('tx-abort')
        const id = unique('tx-abort-id')
        const tp = { topic: t, partition: 0 }
        const aborted = log.transaction({ id })
        aborted.send(t, [{ value: bytes('aborted-1') }, { value: bytes('aborted-2') }])
        aborted.commitOffsets(group, [{ topic: t, partition: 0, offset: 2 }])
        aborted.abort()
        await assert.rejects(aborted.commit(), rejectsWith('SLUICE_TRANSACTION_STATE'))
        assert.throws(
          () => aborted.send(t, { value: bytes('late') }),
          rejectsWith('SLUICE_TRANSACTION_STATE'),
        )

        const failing = log.transaction({ id })
        failing.send(t, [{ value: bytes('failed-1') }])
        failing.send(t, [{ value: bytes('failed-2'), partition: 7 }])
        await assert.rejects(failing.commit(), rejectsWith('SLUICE_INVALID_ARGUMENT'))

        const committed = log.transaction({ id })
        committed.send(t, [{ value: bytes('kept-1') }, { value: bytes('kept-2') }])
        const metadata = (await committed.commit()).get(t)!
        const read = await readAll(tp, 2)
        assert.deepEqual(
          read.map((r) => text(r.value)),
          ['kept-1', 'kept-2'],
        )
        assert.deepEqual(
          read.map((r) => r.offset),
          metadata.map((m) => m.offset),
        )
        assert.deepEqual(
          [...(await log.committedOffsets(group, t))],
          [],
          'the aborted offsets were not committed',
        )
      })

      test('transactions with one id run one after another; offsets match what is read', async () => {
        const t = await topic('tx-seq', { partitions: 1 })
        const id = unique('tx-seq-id')
        const all: { offset: number; value: string }[] = []
        await Promise.all(
          [0, 1, 2].map(async (n) => {
            const tx = log.transaction({ id })
            tx.send(
              t,
              [0, 1].map((i) => ({ value: bytes(`t${n}-${i}`) })),
            )
            const metadata = (await tx.commit()).get(t)!
            for (const [i, m] of metadata.entries()) all.push({ offset: m.offset, value: `t${n}-${i}` })
          }),
        )
        all.sort((a, b) => a.offset - b.offset)
        const read = await readAll({ topic: t, partition: 0 }, 6)
        assert.deepEqual(
          read.map((r) => [r.offset, text(r.value)]),
          all.map((a) => [a.offset, a.value]),
        )
        const offsets = read.map((r) => r.offset)
        if (capabilities.transactionMarkers) {
          assert.ok(offsets[offsets.length - 1]! > 5, 'commit markers take offsets between transactions')
        } else {
          assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5])
        }
        // Each transaction's two records are adjacent: transactions did not interleave.
        for (let i = 0; i < 6; i += 2)
          assert.equal(text(read[i]!.value)!.split('-')[0], text(read[i + 1]!.value)!.split('-')[0])
      })

      test('a group member consumes, produces and commits its position in one transaction', async () => {
        const input = await topic('rpw-in', { partitions: 2 })
        const output = await topic('rpw-out', { partitions: 1 })
        const group = unique('rpw')
        await log.producer().send(
          input,
          Array.from({ length: 8 }, (_, i) => ({ value: bytes(`in${i}`), partition: i % 2 })),
        )
        const c = log.consumer({ group, topics: [input] })
        try {
          const records: LogRecord[] = []
          await eventually('8 input records', async () => {
            records.push(...(await c.poll({ waitMs: 100 })))
            return records.length >= 8 ? true : undefined
          })
          const tx = log.transaction({ id: unique('rpw-id') })
          tx.send(
            output,
            records.map((r) => ({ value: bytes(`${text(r.value)}!`) })),
          )
          const positions = new Map<number, number>()
          for (const r of records) positions.set(r.partition, r.offset + 1)
          tx.commitOffsets(
            group,
            [...positions].map(([partition, offset]) => ({ topic: input, partition, offset })),
          )
          await tx.commit()
          assert.deepEqual([...(await log.committedOffsets(group, input))].sort(), [
            [0, 4],
            [1, 4],
          ])
          const out = await readAll({ topic: output, partition: 0 }, 8)
          assert.deepEqual(
            out.map((r) => text(r.value)).sort(),
            records.map((r) => `${text(r.value)}!`).sort(),
          )
        } finally {
          await c.close()
        }
      })
    })
  })
}
