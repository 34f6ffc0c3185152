/**
 * What a runner does before it builds tasks, shared by the in-thread and the threaded runner:
 * create the topics a pipeline needs, check co-partitioning, and find where each task input
 * resumes (its pipeline's committed offset, or the start of what retention left).
 */
import type { Pipeline } from '../dsl/pipeline.ts'
import type { TopicDef } from '../dsl/topic.ts'
import { isSluiceError, SluiceError } from '../errors.ts'
import type { Log, TopicConfig, TopicPartition } from '../log/types.ts'
import type { Topology } from '../topology/compile.ts'

/**
 * Creates missing source, repartition, sink and dead-letter topics and returns the task count
 * (input partition count) of each subtopology, by id.
 */
export async function prepareTopics(
  log: Log,
  pipeline: Pipeline,
  topology: Topology,
): Promise<Map<number, number>> {
  const partitionsOf = async (topic: string) => (await log.describeTopic(topic)).partitionDetails.length
  const counts = new Map<number, number>()
  const sourceDefs = new Map<string, { def: TopicDef<unknown>; table: boolean }>()
  for (const n of pipeline.nodes) {
    if (n.op.kind === 'source' || n.op.kind === 'table' || n.op.kind === 'global-table')
      sourceDefs.set(n.op.topic.name, { def: n.op.topic, table: n.op.kind !== 'source' })
  }
  for (const [name, { def, table }] of sourceDefs) {
    if (!(await log.hasTopic(name))) {
      if (def.partitions === undefined) {
        throw new SluiceError(
          'SLUICE_UNKNOWN_TOPIC',
          `pipeline "${pipeline.name}" reads topic "${name}", which does not exist. Create it ` +
            `(sluice topics create ${name} --partitions N${table ? ' --compact' : ''}), or declare topic('${name}', { partitions: N }).`,
        )
      }
      // A table keeps the latest value per key: compaction keeps exactly that.
      await ensureTopic(log, name, { partitions: def.partitions, ...(table ? { compact: true } : {}) })
    }
  }
  // Subtopologies in id order: a repartition source's upstream always has a lower id.
  for (const sub of topology.subtopologies) {
    const sizes = new Map<string, number>()
    for (const s of sub.sources) if (s.upstream === null) sizes.set(s.topic, await partitionsOf(s.topic))
    // A repartition topic feeding a task that also reads a user topic (a table to join, a
    // stream to merge) is created with that topic's partition count: keyBy co-partitions.
    // A task reading only repartition topics from upstreams of different widths (streams
    // keyed by one key, merged) gets them all as wide as the widest: any equal count
    // co-partitions internal topics.
    const userCounts = new Set(sizes.values())
    const widest = Math.max(...sub.sources.map((s) => (s.upstream === null ? 0 : counts.get(s.upstream)!)))
    for (const s of sub.sources) {
      if (s.upstream === null) continue
      const want = userCounts.size === 1 ? [...userCounts][0]! : widest
      if (!(await log.hasTopic(s.topic))) await ensureTopic(log, s.topic, { partitions: want })
      sizes.set(s.topic, await partitionsOf(s.topic))
    }
    const distinct = new Set(sizes.values())
    if (distinct.size > 1) {
      const list = [...sizes].map(([t, n]) => `${t} (${n})`).join(', ')
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `pipeline "${pipeline.name}" reads ${list} in one task, which needs equal partition counts (co-partitioning). ` +
          'Give the topics the same number of partitions, or keyBy one of them so it is repartitioned.',
      )
    }
    counts.set(sub.id, [...distinct][0]!)
  }
  const defaultPartitions = counts.get(0) ?? 1
  for (const def of topology.sinkTopics) {
    if (!(await log.hasTopic(def.name))) {
      await ensureTopic(log, def.name, { partitions: def.partitions ?? defaultPartitions })
    }
  }
  if (!(await log.hasTopic(topology.deadLetterTopic))) {
    await ensureTopic(log, topology.deadLetterTopic, { partitions: 1 })
  }
  return counts
}

/**
 * Creates a topic unless it exists. Workers of a group start together and race to create the
 * same topics: the loser of the race finds the topic there, which is what it wanted.
 */
export async function ensureTopic(log: Log, name: string, config: TopicConfig): Promise<void> {
  try {
    await log.createTopic(name, config)
  } catch (error) {
    if (!isSluiceError(error, 'SLUICE_TOPIC_EXISTS')) throw error
  }
}

/** Where a task input resumes: the group's committed offset, never before the log's start. */
export async function restoredPosition(log: Log, group: string, tp: TopicPartition): Promise<number> {
  const committed = (await log.committedOffsets(group, tp.topic)).get(tp.partition)
  const start = await log.resolveOffset(tp, 'earliest')
  return Math.max(committed ?? start, start)
}
