/**
 * The group leader's side of incremental rebalancing on Kafka, without a broker: the task
 * assignor as the client's partition assigner withholds every partition that changes owner in
 * the round its holder loses it (cooperative-sticky), and hands everything out at once when
 * the group runs the eager protocol (a member offering only `roundrobin`).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka'
import { clientAssigner } from '../../../src/log/kafka/consumer.ts'
import { type TaskGroup, taskAssignor } from '../../../src/runtime/group/assignor.ts'

// Subtopology 0 merges two co-partitioned topics; subtopology 1 reads a repartition topic.
const groups: TaskGroup[] = [
  { id: 0, topics: ['orders', 'refunds'] },
  { id: 1, topics: ['agg-repartition'] },
]
const topics = ['orders', 'refunds', 'agg-repartition']
const metadata = {
  topics: new Map(topics.map((t) => [t, { partitionsCount: 4 }])),
} as unknown as ClusterMetadata
const assign = clientAssigner(taskAssignor(groups))
const COOPERATIVE = 3
const EAGER = 1

type Owned = Record<string, number[]>

/** A member's subscription as the leader decodes it: version, topics, and our claim in the user data. */
function subscription(
  memberId: string,
  version: number,
  generation: number,
  owned: Owned,
): ExtendedGroupProtocolSubscription {
  return {
    memberId,
    version,
    topics,
    metadata: Buffer.from(JSON.stringify({ sluice: 1, generation, owned })),
  }
}

/** member id → "topic/partition" it is assigned, sorted. */
function run(members: ExtendedGroupProtocolSubscription[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const decided = assign(
    members[0]!.memberId,
    new Map(members.map((m) => [m.memberId, m])),
    new Set(topics),
    metadata,
  )
  for (const { memberId, assignments } of decided) {
    const list: string[] = []
    for (const { topic, partitions } of assignments.values())
      for (const p of partitions) list.push(`${topic}/${p}`)
    out.set(memberId, list.sort())
  }
  return out
}

const everything = topics.flatMap((t) => [0, 1, 2, 3].map((p) => `${t}/${p}`)).sort()
const asOwned = (tps: readonly string[]): Owned => {
  const owned: Owned = {}
  for (const tp of tps) {
    const [topic, p] = tp.split('/') as [string, string]
    owned[topic] = [...(owned[topic] ?? []), Number(p)]
  }
  return owned
}

test('cooperative: a joining member gets moved tasks only after their holder has let them go', () => {
  // a holds every task; b joins.
  const round1 = run([
    subscription('a', COOPERATIVE, 5, asOwned(everything)),
    subscription('b', COOPERATIVE, -1, {}),
  ])
  const kept = round1.get('a')!
  assert.deepEqual(round1.get('b'), [], 'nothing is given to b while a still holds it')
  assert.equal(kept.length, everything.length / 2, 'a keeps its share and gives up the rest')
  for (const tp of kept) assert.ok(everything.includes(tp))
  // a's sync took the rest away; it rejoins claiming what it kept, and b gets the rest.
  const round2 = run([
    subscription('a', COOPERATIVE, 6, asOwned(kept)),
    subscription('b', COOPERATIVE, 6, {}),
  ])
  assert.deepEqual(round2.get('a'), kept, 'a keeps exactly what it kept')
  assert.deepEqual([...round2.get('a')!, ...round2.get('b')!].sort(), everything, 'every partition once')
  // Tasks stay whole: b got partition p of both co-partitioned topics.
  const b = round2.get('b')!
  for (const p of [0, 1, 2, 3]) assert.equal(b.includes(`orders/${p}`), b.includes(`refunds/${p}`))
})

test('cooperative: the tasks of a member that left are assigned at once (nobody holds them)', () => {
  const a = ['orders/0', 'refunds/0', 'orders/1', 'refunds/1', 'agg-repartition/0', 'agg-repartition/1']
  const round = run([subscription('a', COOPERATIVE, 7, asOwned(a))])
  assert.deepEqual(round.get('a'), everything)
})

test('cooperative: a stale claim (older generation) does not hold a partition back', () => {
  // z missed a rebalance and still claims orders/0 + refunds/0 from generation 3; a has held them since.
  const round = run([
    subscription('a', COOPERATIVE, 8, asOwned(everything)),
    subscription('z', COOPERATIVE, 3, asOwned(['orders/0', 'refunds/0'])),
  ])
  assert.ok(round.get('a')!.includes('orders/0'), 'the newer claim keeps it')
  assert.deepEqual(round.get('z'), [], 'z gets nothing a still holds')
})

test('eager (a member offers only roundrobin): moved tasks go to their new owner in the same round', () => {
  const round = run([subscription('a', EAGER, 5, asOwned(everything)), subscription('b', EAGER, -1, {})])
  assert.equal(round.get('b')!.length, everything.length / 2)
  assert.deepEqual([...round.get('a')!, ...round.get('b')!].sort(), everything)
})
