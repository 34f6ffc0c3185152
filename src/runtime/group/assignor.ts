/**
 * Which worker runs which task, decided by the consumer group's leader.
 *
 * Kafka's own assignors hand out topic-partitions one by one. Sluice needs whole tasks: a task
 * (one subtopology on one partition number) reads partition p of every topic of its
 * subtopology — a merge of two co-partitioned topics must see both partitions p in one place,
 * because they share keyed state. So this assignor groups the subscribed partitions into tasks
 * first and then balances tasks, like Kafka Streams' StreamsPartitionAssignor.
 *
 * Balance: every member gets ⌊T/M⌋ or ⌈T/M⌉ tasks. Stickiness: a task stays with the member
 * that owned it in the previous generation while that member is under its quota, so a worker
 * joining or leaving moves only the tasks it must (each moved task restores its state from
 * its changelog; staying put costs nothing).
 *
 * Every member runs the same pipeline file, so the leader's view of the topology is everyone's.
 */

import type { Assignor, AssignorMember, TopicPartition } from '../../log/types.ts'

/** The topics of one subtopology; its tasks are the partition numbers of these topics. */
export interface TaskGroup {
  readonly id: number
  readonly topics: readonly string[]
}

export interface TaskId {
  readonly subtopology: number
  readonly partition: number
}

export function taskKey(t: TaskId): string {
  return `${t.subtopology}_${t.partition}`
}

/**
 * Assigns tasks to members. `partitionsOf` gives a topic's partition count; a subtopology's
 * task count is the count of its first topic (co-partitioning was checked when topics were
 * prepared). Returns member id → tasks, every member present (possibly with none).
 */
export function assignTasks(
  groups: readonly TaskGroup[],
  members: readonly AssignorMember[],
  partitionsOf: (topic: string) => number,
): Map<string, TaskId[]> {
  const ids = members.map((m) => m.id).sort()
  const result = new Map<string, TaskId[]>(ids.map((id) => [id, []]))
  if (ids.length === 0) return result

  // Task order: partition-major, so the tasks of one subtopology spread over the members.
  const tasks: TaskId[] = []
  const maxPartitions = Math.max(0, ...groups.map((g) => (g.topics[0] ? partitionsOf(g.topics[0]) : 0)))
  for (let p = 0; p < maxPartitions; p++) {
    for (const g of groups) {
      const first = g.topics[0]
      if (first !== undefined && p < partitionsOf(first)) tasks.push({ subtopology: g.id, partition: p })
    }
  }

  const topicGroup = new Map<string, number>()
  for (const g of groups) for (const t of g.topics) topicGroup.set(t, g.id)
  const previous = new Map<string, AssignorMember>()
  for (const m of members) {
    for (const { topic, partition } of m.owned) {
      const g = topicGroup.get(topic)
      if (g === undefined) continue
      const key = taskKey({ subtopology: g, partition })
      // Two claimants (a member that missed a rebalance): the newer claim keeps it, then the
      // smaller id, deterministically.
      const prior = previous.get(key)
      const newer = (m.generation ?? -1) - (prior?.generation ?? -1)
      if (prior === undefined || newer > 0 || (newer === 0 && m.id < prior.id)) previous.set(key, m)
    }
  }

  const base = Math.floor(tasks.length / ids.length)
  const extra = tasks.length % ids.length
  // The first `extra` members in id order may take one more task than the rest.
  const quota = new Map(ids.map((id, i) => [id, base + (i < extra ? 1 : 0)]))
  const unassigned: TaskId[] = []
  for (const task of tasks) {
    const owner = previous.get(taskKey(task))?.id
    const list = owner === undefined ? undefined : result.get(owner)
    if (list && owner !== undefined && list.length < quota.get(owner)!) list.push(task)
    else unassigned.push(task)
  }
  for (const task of unassigned) {
    let best = ids[0]!
    for (const id of ids) {
      const room = quota.get(id)! - result.get(id)!.length
      if (room > quota.get(best)! - result.get(best)!.length) best = id
    }
    result.get(best)!.push(task)
  }
  return result
}

/** The topic-partitions a member must consume for its tasks, by topic. */
export function partitionsForTasks(
  groups: readonly TaskGroup[],
  tasks: readonly TaskId[],
): Map<string, number[]> {
  const byId = new Map(groups.map((g) => [g.id, g]))
  const out = new Map<string, number[]>()
  for (const t of tasks) {
    for (const topic of byId.get(t.subtopology)?.topics ?? []) {
      let list = out.get(topic)
      if (!list) {
        list = []
        out.set(topic, list)
      }
      list.push(t.partition)
    }
  }
  for (const list of out.values()) list.sort((a, b) => a - b)
  return out
}

/** The tasks behind a member's topic-partition assignment (the inverse of partitionsForTasks). */
export function tasksForPartitions(
  groups: readonly TaskGroup[],
  assignment: readonly TopicPartition[],
): TaskId[] {
  const topicGroup = new Map<string, number>()
  for (const g of groups) for (const t of g.topics) topicGroup.set(t, g.id)
  const seen = new Map<string, TaskId>()
  for (const { topic, partition } of assignment) {
    const g = topicGroup.get(topic)
    if (g === undefined) continue
    const task = { subtopology: g, partition }
    seen.set(taskKey(task), task)
  }
  return [...seen.values()].sort((a, b) => a.subtopology - b.subtopology || a.partition - b.partition)
}

/** The task assignor as a consumer-group `Assignor`: members get the partitions of their tasks. */
export function taskAssignor(groups: readonly TaskGroup[]): Assignor {
  return (members, partitionsOf) => {
    const tasks = assignTasks(groups, members, partitionsOf)
    const out = new Map<string, TopicPartition[]>()
    for (const [member, list] of tasks) {
      const tps: TopicPartition[] = []
      for (const [topic, partitions] of partitionsForTasks(groups, list)) {
        for (const partition of partitions) tps.push({ topic, partition })
      }
      out.set(member, tps)
    }
    return out
  }
}
