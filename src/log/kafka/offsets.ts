import { FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import type { OffsetSpec, TopicPartition, TopicPartitionOffset } from '../types.ts'
import type { KafkaAdmin } from './admin.ts'
import { kafkaErrorIds } from './errors.ts'

/**
 * ListOffsets for partitions of one topic, by partition number. `timestamp` is a time in ms or
 * one of Kafka's specials (-1 latest, -2 earliest). Under read_committed, "latest" is the last
 * stable offset: the first offset of the oldest open transaction, or the high watermark.
 */
export async function listOffsets(
  admin: KafkaAdmin,
  tps: readonly TopicPartition[],
  timestamp: bigint,
  readCommitted: boolean,
): Promise<number[]> {
  const out: number[] = []
  if (tps.length === 0) return out
  const topic = tps[0]!.topic
  let listed: Awaited<ReturnType<KafkaAdmin['client']['listOffsets']>>
  try {
    listed = await admin.client.listOffsets({
      topics: [{ name: topic, partitions: tps.map((tp) => ({ partitionIndex: tp.partition, timestamp })) }],
      isolationLevel: readCommitted
        ? FetchIsolationLevels.READ_COMMITTED
        : FetchIsolationLevels.READ_UNCOMMITTED,
    })
  } catch (error) {
    throw admin.error(error, `list the offsets of topic "${topic}"`, { topic })
  }
  for (const t of listed) for (const p of t.partitions) out[p.partitionIndex] = Number(p.offset)
  return out
}

/** resolveOffset over ListOffsets: the same answers as the embedded log gives. */
export async function resolveOffset(
  admin: KafkaAdmin,
  tp: TopicPartition,
  spec: OffsetSpec,
): Promise<number> {
  await admin.partition(tp)
  const at = async (timestamp: bigint) => (await listOffsets(admin, [tp], timestamp, true))[tp.partition] ?? 0
  if (spec === 'earliest') return at(ListOffsetTimestamps.EARLIEST)
  if (spec === 'latest') return at(ListOffsetTimestamps.LATEST)
  if ('offset' in spec) {
    const [start, end] = await Promise.all([
      at(ListOffsetTimestamps.EARLIEST),
      at(ListOffsetTimestamps.LATEST),
    ])
    return Math.min(Math.max(spec.offset, start), end)
  }
  if (!Number.isFinite(spec.timestamp) || spec.timestamp < 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `timestamp must be a time in ms since the epoch, got ${spec.timestamp}`,
    )
  }
  // Kafka answers -1 when no record is that recent: like the embedded log, that is the end.
  const offset = await at(BigInt(Math.trunc(spec.timestamp)))
  return offset >= 0 ? offset : at(ListOffsetTimestamps.LATEST)
}

/** How long `committedOffsets` waits for a group's pending transactional offsets to settle. */
const UNSTABLE_WAIT_MS = 30_000

/**
 * A group's committed offsets for one topic (OffsetFetch with require_stable: offsets a
 * transaction is still committing are waited for, not skipped).
 */
export async function committedOffsets(
  admin: KafkaAdmin,
  group: string,
  topic: string,
): Promise<Map<number, number>> {
  const info = await admin.topic(topic)
  const partitionIndexes = Array.from({ length: info.partitions }, (_, p) => p)
  let groups: Awaited<ReturnType<KafkaAdmin['client']['listConsumerGroupOffsets']>>
  // UNSTABLE_OFFSET_COMMIT: a transaction is committing offsets for the group. The client
  // retries it a few times within a second; a busy group (workers committing every 100 ms)
  // can keep one pending longer, so wait on, with backoff, for as long as a transaction may
  // take to complete here.
  for (let wait = 50, waited = 0; ; wait = Math.min(wait * 2, 1_000)) {
    try {
      groups = await admin.client.listConsumerGroupOffsets({
        groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes }] }],
        requireStable: true,
      })
      break
    } catch (error) {
      if (!kafkaErrorIds(error).has('UNSTABLE_OFFSET_COMMIT') || waited >= UNSTABLE_WAIT_MS) {
        throw admin.error(error, `read the offsets of group "${group}" on topic "${topic}"`, { topic, group })
      }
      await new Promise((resolve) => setTimeout(resolve, wait))
      waited += wait
    }
  }
  const result = new Map<number, number>()
  for (const g of groups) {
    for (const t of g.topics) {
      if (t.name !== topic) continue
      for (const p of t.partitions)
        if (p.committedOffset >= 0n) result.set(p.partitionIndex, Number(p.committedOffset))
    }
  }
  return result
}

/**
 * Commits offsets for a group from outside its membership: OffsetCommit with generation -1
 * and no member id, which the group coordinator accepts only while the group has no members
 * (a live member owns its partitions' offsets).
 */
export async function commitOffsetsAsAdmin(
  admin: KafkaAdmin,
  group: string,
  offsets: readonly TopicPartitionOffset[],
): Promise<void> {
  const byTopic = new Map<string, { partition: number; offset: bigint }[]>()
  for (const o of offsets) {
    await admin.partition(o, 'Read')
    const list = byTopic.get(o.topic) ?? []
    byTopic.set(o.topic, list)
    list.push({ partition: o.partition, offset: BigInt(o.offset) })
  }
  try {
    await admin.client.alterConsumerGroupOffsets({
      groupId: group,
      topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })),
    })
  } catch (error) {
    const ids = kafkaErrorIds(error)
    if (ids.has('UNKNOWN_MEMBER_ID') || ids.has('ILLEGAL_GENERATION') || ids.has('REBALANCE_IN_PROGRESS')) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `cannot commit offsets for group "${group}": the group has live members in another process, and Kafka ` +
          'only lets a member commit them; commit through a consumer of the group, or stop its members first',
        { cause: error },
      )
    }
    const topic = offsets[0]?.topic
    throw admin.error(error, `commit offsets for group "${group}"`, {
      group,
      operation: 'Read',
      ...(topic === undefined ? {} : { topic }),
    })
  }
}
