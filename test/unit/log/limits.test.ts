/**
 * The log's limits and argument checks: each is a SluiceError with a stable code and a
 * message that says what is wrong and what to do, and a rejected call writes nothing.
 */
import assert from 'node:assert/strict'
import { basename, join } from 'node:path'
import { describe, test } from 'node:test'
import { isSluiceError, type SluiceErrorCode } from '../../../src/errors.ts'
import {
  DEFAULT_MAX_RECORD_BYTES,
  type EmbeddedLog,
  openEmbeddedLog,
} from '../../../src/log/embedded/embedded-log.ts'
import type { ProducerRecord } from '../../../src/log/types.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

/** Bytes a record takes beyond its key, value and headers (batch-codec.ts, RECORD_FIXED_BYTES). */
const RECORD_OVERHEAD = 22

const bytes = (n: number, fill = 0x61) => Buffer.alloc(n, fill)
const rec = (value: string | Buffer, extra: Partial<ProducerRecord> = {}): ProducerRecord => ({
  value: typeof value === 'string' ? Buffer.from(value) : value,
  ...extra,
})

function sluiceError(code: SluiceErrorCode, ...mentions: Array<string | RegExp>) {
  return (error: unknown): boolean => {
    assert.ok(isSluiceError(error, code), `expected ${code}, got ${error}`)
    for (const m of mentions) {
      if (typeof m === 'string') assert.ok(error.message.includes(m), `"${error.message}" mentions ${m}`)
      else assert.match(error.message, m)
    }
    return true
  }
}

function endOffsets(log: EmbeddedLog, topic: string): number[] {
  return log.describeTopicSync(topic).partitionDetails.map((p) => p.endOffset)
}

function storedBytes(log: EmbeddedLog, topic: string): number {
  return log.describeTopicSync(topic).partitionDetails.reduce((n, p) => n + p.bytes + p.batches, 0)
}

describe('record size limit', () => {
  test('a record over the default 1 MiB is rejected, and nothing of its send or appendBatch is written', async () => {
    const dataDir = tempDir()
    let log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
    try {
      await log.createTopic('big', { partitions: 2 })
      assert.equal(log.describeTopicSync('big').maxRecordBytes, DEFAULT_MAX_RECORD_BYTES)
      assert.equal(DEFAULT_MAX_RECORD_BYTES, 1024 * 1024)
      const tooLarge = sluiceError(
        'SLUICE_RECORD_TOO_LARGE',
        'topic "big"',
        `at most ${DEFAULT_MAX_RECORD_BYTES}`,
      )
      const huge = rec(bytes(DEFAULT_MAX_RECORD_BYTES + 1))
      const producer = log.producer({ lingerMs: 0 })

      // The huge record in the middle of a send: the small ones around it are not written either,
      // not even those bound for another partition.
      await assert.rejects(
        producer.send('big', [
          rec('before', { partition: 0 }),
          { ...huge, partition: 0 },
          rec('after', { partition: 1 }),
        ]),
        tooLarge,
      )
      await producer.flush()
      await assert.rejects(
        log.appendBatch({ topic: 'big', partition: 1 }, [rec('first'), huge, rec('last')]),
        tooLarge,
      )
      // The limit counts key + value + headers: a value that fits alone, with a header, does not.
      const atLimit = DEFAULT_MAX_RECORD_BYTES - RECORD_OVERHEAD
      await assert.rejects(
        log.appendBatch({ topic: 'big', partition: 1 }, [rec(bytes(atLimit), { headers: { h: 'v' } })]),
        tooLarge,
      )
      await assert.rejects(
        log.appendBatch({ topic: 'big', partition: 1 }, [rec(bytes(atLimit - 10), { key: bytes(11) })]),
        tooLarge,
      )
      // An idempotent appendBatch rejected for size does not consume its sequence numbers.
      const identity = await log.initProducerId('sized')
      await assert.rejects(
        log.appendBatch({ topic: 'big', partition: 0 }, [rec('ok'), huge], { ...identity, baseSequence: 0 }),
        tooLarge,
      )
      assert.equal(log.lastSequence(identity.producerId, { topic: 'big', partition: 0 }), -1)
      assert.deepEqual(endOffsets(log, 'big'), [0, 0])
      assert.equal(storedBytes(log, 'big'), 0)

      // Nothing was reserved either: the next records get offset 0, and a record of exactly
      // the limit is accepted.
      assert.deepEqual(await producer.send('big', rec('next', { partition: 1 })), [
        { partition: 1, offset: 0 },
      ])
      const exact = await log.appendBatch({ topic: 'big', partition: 0 }, [rec(bytes(atLimit))], {
        ...identity,
        baseSequence: 0,
      })
      assert.deepEqual(exact, { baseOffset: 0, count: 1, duplicate: false })
      assert.equal(log.read({ topic: 'big', partition: 0 }, 0)[0]!.value!.length, atLimit)
      await log.close()

      log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
      assert.deepEqual(endOffsets(log, 'big'), [1, 1], 'after a reopen too, only the accepted records')
    } finally {
      await log.close()
    }
  })

  test('a topic with maxRecordBytes 1000 rejects a 2000-byte record and accepts a 900-byte one', async () => {
    const dataDir = tempDir()
    let log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
    try {
      await log.createTopic('small', { partitions: 1, maxRecordBytes: 1000 })
      const tp = { topic: 'small', partition: 0 }
      const tooLarge = sluiceError(
        'SLUICE_RECORD_TOO_LARGE',
        'topic "small"',
        'at most 1000',
        /--max-record-bytes/,
      )
      await assert.rejects(log.producer().send('small', rec(bytes(2000))), tooLarge)
      await assert.rejects(log.appendBatch(tp, [rec(bytes(2000))]), tooLarge)
      assert.deepEqual(endOffsets(log, 'small'), [0])

      assert.deepEqual(await log.producer().send('small', rec(bytes(900))), [{ partition: 0, offset: 0 }])
      // The boundary: key + value + headers + 22 bytes of framing, up to exactly 1000.
      await log.appendBatch(tp, [rec(bytes(1000 - RECORD_OVERHEAD))])
      await assert.rejects(log.appendBatch(tp, [rec(bytes(1000 - RECORD_OVERHEAD + 1))]), tooLarge)
      assert.deepEqual(
        log.read(tp, 0).map((r) => r.value!.length),
        [900, 1000 - RECORD_OVERHEAD],
      )
      await log.close()

      // The limit is part of the topic: it survives a reopen.
      log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
      assert.equal(log.describeTopicSync('small').maxRecordBytes, 1000)
      await assert.rejects(log.appendBatch(tp, [rec(bytes(2000))]), tooLarge)
      await log.appendBatch(tp, [rec(bytes(900))])
      assert.deepEqual(endOffsets(log, 'small'), [3])
    } finally {
      await log.close()
    }
  })
})

describe('topic names and configuration', () => {
  test('invalid topic names are rejected and create nothing', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      const invalid = ['', 'a b', '..', '.', 'x'.repeat(250), 'héllo', 'a/b', 'tab\there']
      for (const name of invalid) {
        await assert.rejects(
          log.createTopic(name, { partitions: 1 }),
          sluiceError('SLUICE_INVALID_TOPIC_NAME'),
          `topic name ${JSON.stringify(name)}`,
        )
      }
      assert.deepEqual(await log.listTopics(), [])
      // The edges of what is allowed: 249 characters, and every legal character.
      await log.createTopic('x'.repeat(249), { partitions: 1 })
      await log.createTopic('Orders.v2_eu-West9', { partitions: 1 })
      await log.createTopic('...', { partitions: 1 })
      assert.deepEqual(await log.listTopics(), ['...', 'Orders.v2_eu-West9', 'x'.repeat(249)])
    } finally {
      await log.close()
    }
  })

  test('an unknown topic is an error that says how to create it', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      const unknown = sluiceError(
        'SLUICE_UNKNOWN_TOPIC',
        'unknown topic "nope"',
        'create it first',
        'sluice topics create nope --partitions N',
      )
      await assert.rejects(log.producer().send('nope', rec('a')), unknown)
      assert.throws(() => log.read({ topic: 'nope', partition: 0 }, 0), unknown)
      await assert.rejects(log.fetch({ topic: 'nope', partition: 0 }, 0), unknown)
      await assert.rejects(log.appendBatch({ topic: 'nope', partition: 0 }, [rec('a')]), unknown)
      await assert.rejects(log.describeTopic('nope'), unknown)
      await assert.rejects(log.deleteTopic('nope'), unknown)
      assert.deepEqual(await log.listTopics(), [])
    } finally {
      await log.close()
    }
  })

  test('a partition count that is not a whole number from 1 to 10000 is rejected', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      for (const partitions of [0, 1.5, -1, Number.NaN, 10_001]) {
        await assert.rejects(
          log.createTopic('t', { partitions }),
          sluiceError('SLUICE_INVALID_ARGUMENT', 'topic "t"', 'partitions', String(partitions)),
          `partitions: ${partitions}`,
        )
      }
      assert.deepEqual(await log.listTopics(), [])
      await log.createTopic('t', { partitions: 2 })
      // A partition the topic does not have is the same kind of error.
      const noSuchPartition = sluiceError('SLUICE_INVALID_ARGUMENT', 'partitions 0..1', 'partition 2')
      assert.throws(() => log.read({ topic: 't', partition: 2 }, 0), noSuchPartition)
      await assert.rejects(log.appendBatch({ topic: 't', partition: 2 }, [rec('a')]), noSuchPartition)
      await assert.rejects(
        log.producer().send('t', [rec('ok', { partition: 0 }), rec('bad', { partition: 2 })]),
        sluiceError('SLUICE_INVALID_ARGUMENT', 'partition 2', 'partitions 0..1'),
      )
      assert.deepEqual(endOffsets(log, 't'), [0, 0])
    } finally {
      await log.close()
    }
  })

  test('a compacted topic rejects records without a key, and writes nothing of their send', async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    try {
      await log.createTopic('users', { partitions: 2, compact: true })
      const noKey = sluiceError('SLUICE_INVALID_INPUT', 'compacted topic "users"', 'no key')
      const keyed = rec('alice', { key: Buffer.from('u1') })
      await assert.rejects(log.producer().send('users', [keyed, rec('anonymous')]), noKey)
      await assert.rejects(log.producer().send('users', [keyed, rec('null key', { key: null })]), noKey)
      await assert.rejects(
        log.appendBatch({ topic: 'users', partition: 0 }, [keyed, rec('anonymous')]),
        noKey,
      )
      const tx = log.transaction({ id: 'tx' })
      tx.send('users', [keyed, rec('anonymous')])
      await assert.rejects(tx.commit(), noKey)
      assert.deepEqual(endOffsets(log, 'users'), [0, 0])

      // With keys, values and tombstones are accepted.
      const acks = await log.producer().send('users', [keyed, { key: Buffer.from('u1'), value: null }])
      assert.equal(acks.length, 2)
      assert.equal(
        endOffsets(log, 'users').reduce((a, b) => a + b, 0),
        2,
      )
    } finally {
      await log.close()
    }
  })
})

describe('data directory lock', () => {
  test('opening the same data directory twice in one process is refused until the first is closed', async () => {
    const dataDir = tempDir()
    const first = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
    try {
      await first.createTopic('t', { partitions: 1 })
      const locked = sluiceError('SLUICE_DATA_DIR_LOCKED', 'already open in this process')
      await assert.rejects(openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 }), locked)
      // The same directory spelt differently is the same directory.
      await assert.rejects(openEmbeddedLog({ dataDir: `${dataDir}/`, cleanupIntervalMs: 0 }), locked)
      await assert.rejects(
        openEmbeddedLog({ dataDir: join(dataDir, '..', basename(dataDir)), cleanupIntervalMs: 0 }),
        locked,
      )
      // The refused opens did not disturb the first.
      await first.producer().send('t', rec('still writable'))
      assert.deepEqual(endOffsets(first, 't'), [1])
    } finally {
      await first.close()
    }
    const second = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
    try {
      assert.deepEqual(endOffsets(second, 't'), [1])
    } finally {
      await second.close()
    }
  })
})
