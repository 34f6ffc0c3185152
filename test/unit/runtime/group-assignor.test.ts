import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { AssignorMember } from '../../../src/log/types.ts'
import {
  assignTasks,
  partitionsForTasks,
  type TaskGroup,
  type TaskId,
  taskAssignor,
  taskKey,
  tasksForPartitions,
} from '../../../src/runtime/group/assignor.ts'

// Subtopology 0 merges two co-partitioned topics; subtopology 1 reads a repartition topic.
const groups: TaskGroup[] = [
  { id: 0, topics: ['orders', 'refunds'] },
  { id: 1, topics: ['p-agg-repartition'] },
]
const counts: Record<string, number> = { orders: 6, refunds: 6, 'p-agg-repartition': 4 }
const partitionsOf = (t: string) => counts[t]!

const flat = (parts: Map<string, number[]>) =>
  [...parts].flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })))
const member = (id: string, tasks: TaskId[] = []): AssignorMember => ({
  id,
  topics: ['orders', 'refunds', 'p-agg-repartition'],
  owned: flat(partitionsForTasks(groups, tasks)),
})
const keys = (tasks: readonly TaskId[]) => tasks.map(taskKey).sort()
const all = (a: Map<string, TaskId[]>) => [...a.values()].flat()

test('every task is assigned exactly once, balanced within one task', () => {
  for (const n of [1, 2, 3, 4, 7, 12]) {
    const members = Array.from({ length: n }, (_, i) => member(`m${i}`))
    const a = assignTasks(groups, members, partitionsOf)
    assert.equal(a.size, n)
    const tasks = all(a)
    assert.equal(tasks.length, 10)
    assert.equal(new Set(tasks.map(taskKey)).size, 10, 'no task twice')
    const sizes = [...a.values()].map((t) => t.length)
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced for ${n} members: ${sizes}`)
  }
})

test('a task brings partition p of every topic it reads to one member (co-partitioning)', () => {
  const a = assignTasks(groups, [member('a'), member('b'), member('c')], partitionsOf)
  for (const tasks of a.values()) {
    const parts = partitionsForTasks(groups, tasks)
    assert.deepEqual(parts.get('orders') ?? [], parts.get('refunds') ?? [])
    assert.deepEqual(keys(tasksForPartitions(groups, flat(parts))), keys(tasks))
  }
})

test('sticky: a joining member takes only what balance needs; a leaving member only moves its own tasks', () => {
  const first = assignTasks(groups, [member('a'), member('b')], partitionsOf)
  const joined = assignTasks(
    groups,
    [member('a', first.get('a')!), member('b', first.get('b')!), member('c')],
    partitionsOf,
  )
  const kept = (m: string) => joined.get(m)!.filter((t) => keys(first.get(m)!).includes(taskKey(t))).length
  // 10 tasks over 3 members: 4/3/3. a and b had 5 each; each keeps all but what c needs.
  assert.equal(kept('a') + kept('b'), 10 - joined.get('c')!.length)
  assert.equal(joined.get('c')!.length, 3)

  const left = assignTasks(
    groups,
    [member('a', joined.get('a')!), member('c', joined.get('c')!)],
    partitionsOf,
  )
  for (const m of ['a', 'c']) {
    for (const t of joined.get(m)!)
      assert.ok(keys(left.get(m)!).includes(taskKey(t)), `${m} keeps ${taskKey(t)}`)
  }
  assert.equal(all(left).length, 10)
})

test('the assignment is the same whichever member computes it', () => {
  const members = [member('x'), member('y'), member('z')]
  const a = assignTasks(groups, members, partitionsOf)
  const b = assignTasks(groups, [...members].reverse(), partitionsOf)
  assert.deepEqual(
    [...a].map(([m, t]) => [m, keys(t)]),
    [...b].sort(([x], [y]) => x.localeCompare(y)).map(([m, t]) => [m, keys(t)]),
  )
})

test('as a consumer-group assignor it hands each member the partitions of its tasks', () => {
  const assign = taskAssignor(groups)
  const out = assign([member('a'), member('b')], partitionsOf)
  const seen = [...out.values()].flat().map((tp) => `${tp.topic}/${tp.partition}`)
  assert.equal(seen.length, 6 + 6 + 4)
  assert.equal(new Set(seen).size, seen.length)
  for (const tps of out.values()) {
    const orders = tps.filter((t) => t.topic === 'orders').map((t) => t.partition)
    const refunds = tps.filter((t) => t.topic === 'refunds').map((t) => t.partition)
    assert.deepEqual(orders, refunds)
  }
})
