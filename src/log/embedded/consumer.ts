import { randomUUID } from 'node:crypto'
import { isSluiceError, SluiceError } from '../../errors.ts'
import type {
  Assignor,
  Consumer,
  ConsumerOptions,
  LogRecord,
  PollOptions,
  ResetPolicy,
  TopicPartition,
} from '../types.ts'
import type { EmbeddedLog } from './embedded-log.ts'
import type { PartitionState } from './partition-state.ts'

/**
 * Consumer groups of one process. Partitions of the subscribed topics are spread over the
 * members round-robin (sorted by member id, so the result is deterministic); every join or
 * leave reassigns them and bumps the generation.
 */
export class GroupCoordinator {
  readonly #groups = new Map<string, Set<EmbeddedConsumer>>()
  /** Each group's generation: one number for all its members, as on Kafka. */
  readonly #generations = new Map<string, number>()

  join(member: EmbeddedConsumer): void {
    let members = this.#groups.get(member.group)
    if (!members) {
      members = new Set()
      this.#groups.set(member.group, members)
    }
    members.add(member)
    this.#rebalance(members)
  }

  leave(member: EmbeddedConsumer): void {
    const members = this.#groups.get(member.group)
    if (!members?.delete(member)) return
    if (members.size === 0) this.#groups.delete(member.group)
    else this.#rebalance(members)
  }

  members(group: string): string[] {
    return [...(this.#groups.get(group) ?? [])].map((m) => m.memberId).sort()
  }

  async closeAll(): Promise<void> {
    for (const members of this.#groups.values()) for (const m of members) await m.close()
  }

  #rebalance(members: Set<EmbeddedConsumer>): void {
    const sorted = [...members].sort((a, b) =>
      a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
    )
    const group = sorted[0]!.group
    const generation = (this.#generations.get(group) ?? 0) + 1
    this.#generations.set(group, generation)
    const custom = sorted[0]!.assignor
    if (custom) {
      const log = sorted[0]!.log
      const decided = custom(
        sorted.map((m) => ({
          id: m.memberId,
          topics: m.topics,
          owned: m.assignment(),
          generation: m.generation(),
        })),
        (topic) => log.partitionsOf(topic).length,
      )
      for (const m of sorted) {
        m.assign(
          (decided.get(m.memberId) ?? []).map((tp) => log.partition(tp)),
          generation,
        )
      }
      return
    }
    const assignment = new Map<EmbeddedConsumer, PartitionState[]>(sorted.map((m) => [m, []]))
    const topics = [...new Set(sorted.flatMap((m) => m.topics))].sort()
    for (const topic of topics) {
      const subscribers = sorted.filter((m) => m.topics.includes(topic))
      const parts = subscribers[0]!.log.partitionsOf(topic)
      for (const [i, part] of parts.entries())
        assignment.get(subscribers[i % subscribers.length]!)!.push(part)
    }
    for (const [member, parts] of assignment) member.assign(parts, generation)
  }
}

/** A member of a consumer group on the embedded log. */
export class EmbeddedConsumer implements Consumer {
  readonly log: EmbeddedLog
  readonly group: string
  readonly memberId: string
  readonly topics: readonly string[]
  readonly #reset: ResetPolicy
  readonly assignor: Assignor | undefined
  #assigned: PartitionState[] = []
  /** Bumped by every rebalance, so a member can tell that its assignment was recomputed. */
  #generation = 0
  /** Next offset to read per owned partition; absent until first resolved. */
  readonly #positions = new Map<PartitionState, number>()
  #cursor = 0
  #closed = false

  constructor(log: EmbeddedLog, options: ConsumerOptions) {
    if (!options.group) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        'a consumer needs a group name (e.g. { group: "my-app" })',
      )
    }
    this.log = log
    this.group = options.group
    this.topics = [...options.topics]
    this.memberId = options.memberId ?? `${options.group}-${randomUUID()}`
    this.#reset = options.reset ?? 'earliest'
    this.assignor = options.assignor
    log.groups.join(this)
  }

  /** Called by the coordinator on every rebalance. */
  assign(parts: PartitionState[], generation: number): void {
    this.#generation = generation
    const keep = new Set(parts)
    for (const p of this.#positions.keys()) if (!keep.has(p)) this.#positions.delete(p)
    this.#assigned = parts
  }

  generation(): number {
    return this.#generation
  }

  assignment(): TopicPartition[] {
    return this.#assigned.map((p) => ({ topic: p.topic.name, partition: p.partition }))
  }

  #position(part: PartitionState): number {
    let position = this.#positions.get(part)
    if (position === undefined) {
      const committed = this.log.committedOffset(this.group, part.topic.name, part.partition)
      position = committed ?? (this.#reset === 'earliest' ? part.startOffset : part.highWatermark)
      if (position < part.startOffset) position = part.startOffset
      this.#positions.set(part, position)
    }
    return position
  }

  async poll(options: PollOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen()
    const maxRecords = options.maxRecords ?? 10_000
    const out = this.#readAvailable(maxRecords, options.skip)
    if (out.length > 0 || !options.waitMs || this.#assigned.length === 0) return out
    await this.log.waitForAppend(this.#assigned, options.waitMs)
    if (this.#closed) return []
    return this.#readAvailable(maxRecords, options.skip)
  }

  #readAvailable(maxRecords: number, skip: PollOptions['skip']): LogRecord[] {
    const out: LogRecord[] = []
    const n = this.#assigned.length
    // Start at a rotating partition so a busy partition cannot starve the others.
    for (let k = 0; k < n && out.length < maxRecords; k++) {
      const part = this.#assigned[(this.#cursor + k) % n]!
      if (skip?.(part.tp)) continue
      let position = this.#position(part)
      if (position >= part.highWatermark) continue
      let records: LogRecord[]
      try {
        records = this.log.read(part.tp, position, { maxRecords: maxRecords - out.length })
      } catch (error) {
        if (!isSluiceError(error, 'SLUICE_OFFSET_OUT_OF_RANGE')) throw error
        // Retention removed what we were about to read: continue from what is left.
        position = this.#reset === 'earliest' ? part.startOffset : part.highWatermark
        this.#positions.set(part, position)
        records = this.log.read(part.tp, position, { maxRecords: maxRecords - out.length })
      }
      if (records.length === 0) continue
      for (const r of records) out.push(r)
      this.#positions.set(part, records[records.length - 1]!.offset + 1)
    }
    this.#cursor = (this.#cursor + 1) % Math.max(1, n)
    return out
  }

  position(tp: TopicPartition): number | undefined {
    const part = this.#assigned.find((p) => p.topic.name === tp.topic && p.partition === tp.partition)
    return part ? this.#positions.get(part) : undefined
  }

  seek(tp: TopicPartition, offset: number): void {
    const part = this.#assigned.find((p) => p.topic.name === tp.topic && p.partition === tp.partition)
    if (!part) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `cannot seek ${tp.topic}/${tp.partition}: this member does not own it (it owns ${this.#assigned.length} partitions)`,
      )
    }
    this.#positions.set(part, offset)
  }

  async commit(): Promise<void> {
    this.#assertOpen()
    const offsets = [...this.#positions].map(([p, offset]) => ({
      topic: p.topic.name,
      partition: p.partition,
      offset,
    }))
    if (offsets.length > 0) await this.log.commitOffsets(this.group, offsets)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.log.groups.leave(this)
  }

  #assertOpen(): void {
    if (this.#closed) throw new SluiceError('SLUICE_LOG_CLOSED', `consumer ${this.memberId} is closed`)
  }
}
