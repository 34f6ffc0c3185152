import { randomUUID } from 'node:crypto'
import {
  FetchIsolationLevels,
  type GroupPartitionsAssigner,
  Consumer as KafkaClientConsumer,
} from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import type {
  Assignor,
  AssignorMember,
  Consumer,
  ConsumerOptions,
  LogRecord,
  OffsetSpec,
  PollOptions,
  ResetPolicy,
  TopicPartition,
} from '../types.ts'
import type { ErrorAbout, KafkaAdmin } from './admin.ts'
import type { Fetcher, PartitionRead } from './fetch.ts'
import { clientOptions } from './options.ts'

/** One topic of a member's assignment, as the client reports it. */
interface ClientAssignment {
  topic: string
  partitions: number[]
}
/** What a consumer needs from its log. */
export interface ConsumerDeps {
  admin: KafkaAdmin
  fetcher: Fetcher
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>
  resolveOffset(tp: TopicPartition, spec: OffsetSpec): Promise<number>
  onClose(consumer: KafkaConsumer): void
}

/** A member's identity in its group's current generation: what TxnOffsetCommit must carry. */
export interface GroupMembership {
  groupId: string
  generationId: number
  memberId: string
  coordinatorId: number
}

/** Bytes a poll asks the broker for per record it may return (records plus batch overhead). */
const BYTES_PER_RECORD = 128

/** While unassigned, how often `poll` looks whether a rebalance has given it partitions. */
const ASSIGNMENT_CHECK_MS = 50

const key = (tp: TopicPartition) => `${tp.topic}\0${tp.partition}`

/**
 * A member of a Kafka consumer group (classic protocol): the client's Consumer joins the group,
 * heartbeats, and follows rebalances; reading and positions are ours, as in the embedded
 * consumer. `poll` fetches the owned partitions directly (read_committed), and `commit`
 * commits positions with the member's generation, so a member that was rebalanced out cannot
 * silently commit over the new owner.
 *
 * `memberId` is Sluice's name for the member (it becomes the client id); Kafka gives the member
 * its own id when it joins.
 */
export class KafkaConsumer implements Consumer {
  readonly group: string
  readonly memberId: string
  readonly topics: readonly string[]
  readonly #deps: ConsumerDeps
  readonly #client: KafkaClientConsumer<Buffer, Buffer, Buffer, Buffer>
  readonly #reset: ResetPolicy
  readonly #joined: Promise<void>
  /** Next offset to read per owned partition; absent until first resolved. */
  readonly #positions = new Map<string, { tp: TopicPartition; offset: number }>()
  #cursor = 0
  /** Why the member dropped out of the group, until `poll` rejoins. */
  #lost: Error | null = null
  /** The generation and assignment of the last completed sync, as one pair. */
  #synced: { generation: number; assignments: readonly ClientAssignment[] } = {
    generation: 0,
    assignments: [],
  }
  /** Per held partition, the generation since which it has been held without a break. */
  #heldSince = new Map<string, number>()
  #closed = false

  constructor(deps: ConsumerDeps, options: ConsumerOptions) {
    if (!options.group) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        'a consumer needs a group name (e.g. { group: "my-app" })',
      )
    }
    if (options.topics.length === 0) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `consumer of group "${options.group}" subscribes to no topic`,
      )
    }
    this.#deps = deps
    this.group = options.group
    this.topics = [...options.topics]
    this.memberId = options.memberId ?? `${options.group}-${randomUUID()}`
    this.#reset = options.reset ?? 'earliest'
    const { group: timing } = deps.admin.options
    this.#client = new KafkaClientConsumer<Buffer, Buffer, Buffer, Buffer>({
      ...clientOptions(deps.admin.options, `consumer-${this.memberId}`),
      groupId: this.group,
      sessionTimeout: timing.sessionTimeoutMs,
      heartbeatInterval: timing.heartbeatIntervalMs,
      rebalanceTimeout: timing.rebalanceTimeoutMs,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      autocommit: false,
      ...(options.assignor
        ? {
            // Incremental rebalancing (KIP-429) where every member offers it, else eager; see
            // COOPERATIVE below.
            protocols: [COOPERATIVE, EAGER],
            partitionAssigner: clientAssigner(options.assignor),
            // The leader also needs the generation of each claim (a member that missed a
            // rebalance still claims what it had): both go in the user data.
            protocolsMetadata: () => encodeOwned(this.generation(), this.assignment()),
          }
        : {}),
    })
    // The client emits 'error' when a rejoin after a rebalance fails, and then stops
    // heartbeating: without a listener that event would crash the process. The next poll
    // rejoins (or reports why it cannot).
    this.#client.on('error', (error: Error) => {
      this.#lost = error
    })
    // The client takes its new generation id from the JoinGroup response and its assignment
    // only from the SyncGroup response after it: read separately, the two can disagree (a new
    // generation with the old partitions). A worker that built its tasks from such a pair
    // could process partitions another member owns in that generation. Both are taken here,
    // together, when the sync completes.
    this.#client.on(
      'consumer:group:join',
      (e: { generationId: number; assignments: ClientAssignment[] | null }) => {
        this.#take(e.generationId, e.assignments ?? [])
      },
    )
    // The first round of an incremental rebalance only takes partitions away, and the client
    // rejoins at once without a 'group:join' event: it emits 'group:rebalance' after installing
    // the smaller assignment of that round's sync. Taken here, the worker drops the revoked
    // tasks, and the next round's claims (user data) no longer name them. The same event also
    // comes when a heartbeat hears of a rebalance: the assignment then is the one already
    // taken, and nothing changes.
    this.#client.on('consumer:group:rebalance', () => {
      const assignments = this.#client.assignments
      if (assignments && assignments !== this.#synced.assignments)
        this.#take(this.#client.generationId, assignments)
    })
    this.#joined = this.#join()
    // Join failures surface from poll(); never as an unhandled rejection here.
    this.#joined.catch(() => {})
  }

  /**
   * Takes the generation and assignment of a completed sync. A partition in this assignment
   * and in the one of the generation just before stays held since the older generation: in
   * between, no other member can have owned it.
   */
  #take(generation: number, assignments: readonly ClientAssignment[]): void {
    const consecutive = generation === this.#synced.generation + 1
    const held = new Map<string, number>()
    for (const a of assignments) {
      for (const partition of a.partitions) {
        const k = key({ topic: a.topic, partition })
        held.set(k, (consecutive ? this.#heldSince.get(k) : undefined) ?? generation)
      }
    }
    this.#heldSince = held
    this.#synced = { generation, assignments }
  }

  /**
   * The generation since which this member has held `tp` without a break, as far as it knows
   * (undefined when it does not hold it). A task whose partitions were all held since the
   * generation it was last confirmed in never ran anywhere else meanwhile, however many
   * generations the worker did not see: its state in memory is still the only state.
   */
  heldSince(tp: TopicPartition): number | undefined {
    return this.#heldSince.get(key(tp))
  }

  async #join(): Promise<void> {
    for (const topic of this.topics) await this.#deps.admin.topic(topic, false, 'Read')
    this.#client.topics.trackAll(...this.topics)
    try {
      await this.#client.joinGroup({})
    } catch (error) {
      if (this.#closed) return
      throw this.#deps.admin.error(error, `join consumer group "${this.group}"`, this.#about())
    }
  }

  async #rejoin(): Promise<void> {
    const lost = this.#lost
    this.#lost = null
    try {
      await this.#client.joinGroup({})
    } catch (error) {
      throw this.#deps.admin.error(
        error,
        `rejoin consumer group "${this.group}" (after: ${lost?.message ?? 'unknown'})`,
        this.#about(),
      )
    }
  }

  assignment(): TopicPartition[] {
    const out: TopicPartition[] = []
    for (const a of this.#synced.assignments) {
      if (!this.topics.includes(a.topic)) continue
      for (const partition of a.partitions) out.push({ topic: a.topic, partition })
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
  }

  /**
   * Kafka's generation id of the group this member last joined (0 before it has): the
   * coordinator bumps it at every rebalance.
   */
  generation(): number {
    return this.#synced.generation
  }

  /** The generation this member is in, when it has joined (for transactional offset commits). */
  membership(): GroupMembership | null {
    const client = this.#client
    const coordinatorId = client.coordinatorId
    if (this.#closed || !client.memberId || client.generationId < 0 || coordinatorId === null) return null
    return {
      groupId: this.group,
      generationId: client.generationId,
      memberId: client.memberId,
      coordinatorId,
    }
  }

  owns(tp: TopicPartition): boolean {
    return this.assignment().some((a) => a.topic === tp.topic && a.partition === tp.partition)
  }

  /**
   * Follows the current assignment: forgets partitions a rebalance took away and finds where to
   * start the new ones — the group's committed offset, else the reset policy.
   */
  async #sync(): Promise<TopicPartition[]> {
    const owned = this.assignment()
    const keep = new Set(owned.map(key))
    for (const k of this.#positions.keys()) if (!keep.has(k)) this.#positions.delete(k)
    const fresh = owned.filter((tp) => !this.#positions.has(key(tp)))
    const committed = new Map<string, Map<number, number>>()
    for (const tp of fresh) {
      if (!committed.has(tp.topic))
        committed.set(tp.topic, await this.#deps.committedOffsets(this.group, tp.topic))
      const offset =
        committed.get(tp.topic)!.get(tp.partition) ?? (await this.#deps.resolveOffset(tp, this.#reset))
      // A rebalance may have run while we awaited: only start partitions still owned.
      if (this.owns(tp) && !this.#positions.has(key(tp))) this.#positions.set(key(tp), { tp, offset })
    }
    return owned.filter((tp) => this.#positions.has(key(tp)))
  }

  async poll(options: PollOptions = {}): Promise<LogRecord[]> {
    this.#assertOpen()
    await this.#joined
    if (this.#lost) await this.#rejoin()
    const maxRecords = options.maxRecords ?? 10_000
    const deadline = Date.now() + (options.waitMs ?? 0)
    const skip = options.skip
    for (;;) {
      const synced = await this.#sync()
      const owned = skip ? synced.filter((tp) => !skip(tp)) : synced
      if (this.#closed) return []
      const left = deadline - Date.now()
      if (owned.length === 0) {
        if (left <= 0) return []
        await new Promise((resolve) => setTimeout(resolve, Math.min(left, ASSIGNMENT_CHECK_MS)))
        continue
      }
      // Start at a rotating partition so a busy partition cannot starve the others.
      const n = owned.length
      const order = owned.map((_, k) => owned[(this.#cursor + k) % n]!)
      this.#cursor = (this.#cursor + 1) % n
      const reads: PartitionRead[] = order.map((tp) => ({ tp, offset: this.#positions.get(key(tp))!.offset }))
      const results = await this.#deps.fetcher.read(reads, {
        waitMs: Math.max(0, left),
        // The client decodes every batch of a response, and records past maxRecords are
        // dropped (read again by the next poll): ask for about what one poll returns. A
        // fixed 16 MiB decoded ~25× more than it kept (bench:kafka: 55k → see docs/benchmarks.md).
        maxBytes: Math.min(16 * 1024 * 1024, Math.max(64 * 1024, maxRecords * BYTES_PER_RECORD)),
        maxRecords,
      })
      if (this.#closed) return []
      const out: LogRecord[] = []
      let moved = false
      for (let i = 0; i < reads.length; i++) {
        const { tp, offset } = reads[i]!
        const result = results[i]!
        const position = this.#positions.get(key(tp))
        // A rebalance during the fetch took the partition away, or a seek moved it: drop the read.
        if (!position || position.offset !== offset || !this.owns(tp)) continue
        if (result.error) {
          // Retention removed what we were about to read: continue from what is left.
          position.offset = await this.#deps.resolveOffset(tp, this.#reset)
          moved = true
          continue
        }
        for (const r of result.records) out.push(r)
        if (result.nextOffset !== position.offset) moved = true
        position.offset = result.nextOffset
      }
      // Only transaction markers or aborted records were read: there may be data past them.
      if (out.length > 0 || !moved || Date.now() >= deadline) return out
    }
  }

  seek(tp: TopicPartition, offset: number): void {
    if (!this.owns(tp)) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `cannot seek ${tp.topic}/${tp.partition}: this member does not own it (it owns ${this.assignment().length} partitions)`,
      )
    }
    this.#positions.set(key(tp), { tp: { topic: tp.topic, partition: tp.partition }, offset })
  }

  /** The positions to commit: after the last record `poll` returned, per owned partition. */
  position(tp: TopicPartition): number | undefined {
    return this.owns(tp) ? this.#positions.get(key(tp))?.offset : undefined
  }

  positions(): { topic: string; partition: number; offset: number }[] {
    return [...this.#positions.values()]
      .filter(({ tp }) => this.owns(tp))
      .map(({ tp, offset }) => ({ topic: tp.topic, partition: tp.partition, offset }))
  }

  async commit(): Promise<void> {
    this.#assertOpen()
    await this.#joined
    const offsets = this.positions()
    if (offsets.length > 0) await this.commitOffsets(offsets)
  }

  /** OffsetCommit as this member, in its current generation. */
  async commitOffsets(
    offsets: readonly { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    try {
      await this.#client.commit({
        offsets: offsets.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      })
    } catch (error) {
      throw this.#deps.admin.error(
        error,
        `commit offsets of group "${this.group}"`,
        this.#about(offsets[0]?.topic),
      )
    }
  }

  /** What a failed group call touched: a member reads its topics and commits in its group. */
  #about(topic = this.topics[0]): ErrorAbout {
    return { group: this.group, operation: 'Read', ...(topic === undefined ? {} : { topic }) }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#deps.onClose(this)
    // Leaving the group (LeaveGroup) hands our partitions over now, not after the session timeout.
    await this.#client.close(true).catch(() => {})
  }

  #assertOpen(): void {
    if (this.#closed) throw new SluiceError('SLUICE_LOG_CLOSED', `consumer ${this.memberId} is closed`)
  }
}

/**
 * The group protocols a Sluice member offers, in its order of preference. The coordinator picks
 * the first one every member offers, so a group with a member of an older Sluice (which offers
 * only `roundrobin`) falls back to eager rebalancing, and incremental rebalancing starts once
 * the last such member is gone. Both run our assignor; the version tells the leader which one
 * was picked (every member encodes its subscription with the version of the picked protocol),
 * since the client does not pass the name to the assignor.
 *
 * `cooperative-sticky` is the name the client (like Kafka's Java client) runs KIP-429 under:
 * a member whose sync took partitions away rejoins at once, starting a second round in which
 * the leader may give them to their new owner. The assignor must play along: a partition that
 * moves is given to nobody in the round its owner loses it (see `withholdMoves`). Classic
 * protocol: any broker version.
 */
const COOPERATIVE = { name: 'cooperative-sticky', version: 3 }
const EAGER = { name: 'roundrobin', version: 1 }

/**
 * An `Assignor` as the client's partition assigner, which the group leader runs for everyone.
 * Members are named by their Kafka member ids here (the only names the leader sees); what
 * they owned before comes from their subscriptions, when their clients report it.
 */
export function clientAssigner(assignor: Assignor): GroupPartitionsAssigner {
  return (_current, members, _topics, metadata) => {
    const claims = [...members].map(([id, m]) => {
      const claim = decodeOwned(m.metadata)
      return {
        id,
        topics: m.topics ?? [],
        owned:
          claim?.owned ??
          (m.ownedPartitions ?? []).flatMap((a) =>
            a.partitions.map((partition) => ({ topic: a.topic, partition })),
          ),
        ...(claim ? { generation: claim.generation } : {}),
      }
    })
    const decided = assignor(claims, (topic) => metadata.topics.get(topic)?.partitionsCount ?? 0)
    const cooperative = [...members.values()].every((m) => m.version === COOPERATIVE.version)
    if (cooperative) withholdMoves(decided, claims)
    return [...members.keys()].map((memberId) => {
      const assignments = new Map<string, { topic: string; partitions: number[] }>()
      for (const { topic, partition } of decided.get(memberId) ?? []) {
        let a = assignments.get(topic)
        if (!a) {
          a = { topic, partitions: [] }
          assignments.set(topic, a)
        }
        a.partitions.push(partition)
      }
      return { memberId, assignments }
    })
  }
}

/**
 * The first round of an incremental rebalance: a partition the assignor gives to another
 * member than the one that holds it now (the newest claim, as the assignor decides) is given
 * to nobody. Its holder sees it revoked, drops it and rejoins, and in that second round nobody
 * claims it any more, so its new owner gets it. Two members never own a partition in one
 * generation, and a partition changes hands only after its old owner let go; partitions that
 * stay where they are, and those nobody holds (their owner left), are assigned at once.
 */
function withholdMoves(decided: Map<string, TopicPartition[]>, claims: readonly AssignorMember[]): void {
  const holder = new Map<string, AssignorMember>()
  for (const m of claims) {
    for (const tp of m.owned) {
      const prior = holder.get(key(tp))
      const newer = (m.generation ?? -1) - (prior?.generation ?? -1)
      if (prior === undefined || newer > 0 || (newer === 0 && m.id < prior.id)) holder.set(key(tp), m)
    }
  }
  for (const [member, tps] of decided) {
    decided.set(
      member,
      tps.filter((tp) => {
        const h = holder.get(key(tp))
        return h === undefined || h.id === member
      }),
    )
  }
}

/**
 * Subscription user data: `{"sluice":1,"generation":g,"owned":{"topic":[partitions]}}`. The
 * generation lets the leader prefer the newer of two claims on one partition (a member that
 * missed a rebalance still claims what it had).
 */
function encodeOwned(generation: number, owned: readonly TopicPartition[]): Buffer {
  const byTopic: Record<string, number[]> = {}
  for (const { topic, partition } of owned) {
    const list = byTopic[topic] ?? []
    list.push(partition)
    byTopic[topic] = list
  }
  return Buffer.from(JSON.stringify({ sluice: 1, generation, owned: byTopic }))
}

function decodeOwned(
  data: Buffer | string | null | undefined,
): { generation: number; owned: TopicPartition[] } | null {
  if (!data || data.length === 0) return null
  try {
    const claim = JSON.parse(data.toString()) as { sluice?: unknown; generation?: unknown; owned?: unknown }
    if (claim.sluice !== 1 || typeof claim.generation !== 'number' || typeof claim.owned !== 'object')
      return null
    const owned: TopicPartition[] = []
    for (const [topic, partitions] of Object.entries(claim.owned as Record<string, unknown>)) {
      if (!Array.isArray(partitions)) return null
      for (const partition of partitions) if (typeof partition === 'number') owned.push({ topic, partition })
    }
    return { generation: claim.generation, owned }
  } catch {
    // Another client's user data (a member that is not Sluice): it claims nothing.
    return null
  }
}
