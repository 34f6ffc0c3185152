/**
 * Reading a group's committed offsets while its workers commit transactionally: the broker
 * answers UNSTABLE_OFFSET_COMMIT for as long as a transaction holds pending offsets for the
 * group, and `committedOffsets` waits that out instead of failing (seen in the Kafka suite:
 * the client's own four retries ran out while three workers committed every 100 ms).
 *
 * The broker is stood in for by an admin whose OffsetFetch answers the way the client
 * reports a broker's error (a tree of errors with the protocol error's id): the state is
 * transient, and a real broker keeps it only for as long as a transaction takes to commit.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SluiceError } from '../../../src/errors.ts'
import type { KafkaAdmin } from '../../../src/log/kafka/admin.ts'
import { committedOffsets } from '../../../src/log/kafka/offsets.ts'

/** What the client throws once its retries run out: errors of errors, the broker's id inside. */
function brokerAnswered(id: string): Error {
  const protocol = Object.assign(new Error(`broker answered ${id}`), { apiId: id })
  const response = Object.assign(new Error('Listing consumer group offsets failed.'), { errors: [protocol] })
  return Object.assign(new Error('listConsumerGroupOffsets failed 4 times.'), {
    code: 'PLT_KFK_MULTIPLE',
    errors: [response, response],
  })
}

function admin(answers: Array<Error | bigint>) {
  let calls = 0
  const fake = {
    topic: async () => ({ partitions: 1 }),
    client: {
      listConsumerGroupOffsets: async () => {
        const answer = answers[Math.min(calls++, answers.length - 1)]!
        if (answer instanceof Error) throw answer
        return [
          {
            groupId: 'g',
            topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: answer }] }],
          },
        ]
      },
    },
    error: (error: unknown, what: string) =>
      new SluiceError('SLUICE_KAFKA_ERROR', `cannot ${what}: ${(error as Error).message}`),
  }
  return { admin: fake as unknown as KafkaAdmin, calls: () => calls }
}

test('offsets a transaction is still committing are waited for, then read', async () => {
  const unstable = brokerAnswered('UNSTABLE_OFFSET_COMMIT')
  const { admin: a, calls } = admin([unstable, unstable, unstable, 42n])
  assert.deepEqual(await committedOffsets(a, 'g', 't'), new Map([[0, 42]]))
  assert.equal(calls(), 4)
})

test('any other error is not retried', async () => {
  const { admin: a, calls } = admin([brokerAnswered('GROUP_AUTHORIZATION_FAILED'), 42n])
  await assert.rejects(committedOffsets(a, 'g', 't'), /read the offsets of group "g" on topic "t"/)
  assert.equal(calls(), 1)
})
