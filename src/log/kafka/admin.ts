import { Admin, type Broker, type ClusterMetadata, ConfigResourceTypes } from '@platformatic/kafka'
import { isSluiceError, SluiceError } from '../../errors.ts'
import { validateTopicName } from '../topic-name.ts'
import type { TopicConfig, TopicDescription, TopicPartition } from '../types.ts'
import type { Identity } from './access-errors.ts'
import {
  brokerUnavailable,
  type ErrorContext,
  kafkaErrorIds,
  rootMessage,
  toSluiceError,
  unknownTopic,
} from './errors.ts'
import { clientOptions, type ResolvedKafkaOptions } from './options.ts'

/** What the other modules need to know about a topic, from the cluster metadata. */
export interface TopicInfo {
  name: string
  /** Kafka's topic id (Fetch v13+ names topics by id). */
  id: string
  partitions: number
  /** Leader broker id per partition. */
  leaders: number[]
}

/** The topic settings Sluice maps, read back from Kafka's topic configs. */
export interface TopicSettings {
  retentionMs: number | null
  retentionBytes: number | null
  compact: boolean
  maxRecordBytes: number
}

const CONFIG_KEYS = ['retention.ms', 'retention.bytes', 'cleanup.policy', 'max.message.bytes']

/** Metadata failures worth asking again: not an answer about the topic or about access to it. */
const RETRIABLE_METADATA = new Set(['SLUICE_KAFKA_ERROR', 'SLUICE_BROKER_UNAVAILABLE'])

/** What a failed call touched, beyond the words for it: the resources an ACL would name. */
export type ErrorAbout = Pick<ErrorContext, 'topic' | 'group' | 'transactionalId' | 'operation'>

/** Limits the producer cannot check without DescribeConfigs on the topic: the broker checks them. */
const UNCHECKED: Pick<TopicSettings, 'compact' | 'maxRecordBytes'> = {
  compact: false,
  maxRecordBytes: Number.POSITIVE_INFINITY,
}

/**
 * Topics over Kafka's Admin API (CreateTopics, DeleteTopics, Metadata, DescribeConfigs), and
 * the cluster metadata the producer, fetcher and consumers route by.
 */
export class KafkaAdmin {
  readonly client: Admin
  readonly options: ResolvedKafkaOptions
  /** Topic configs change rarely; the producer checks records against them on every send. */
  readonly #settings = new Map<string, { settings: TopicSettings; at: number }>()
  /** Topics whose configs this principal may not read, and since when (see `sendLimits`). */
  readonly #unreadable = new Map<string, number>()
  readonly #identity: Identity

  constructor(options: ResolvedKafkaOptions) {
    this.options = options
    this.client = new Admin(clientOptions(options, 'admin'))
    const { sasl, tls } = options.connection
    this.#identity = {
      ...(typeof sasl?.username === 'string'
        ? { sasl: { mechanism: sasl.mechanism, username: sasl.username } }
        : {}),
      tls: tls !== undefined,
      clientCertificate: tls?.cert !== undefined || tls?.pfx !== undefined,
    }
  }

  /** The SluiceError for what the client threw while doing `what` (see errors.ts). */
  error(error: unknown, what: string, about: ErrorAbout = {}): SluiceError {
    return toSluiceError(error, this.context(what, about))
  }

  context(what: string, about: ErrorAbout = {}): ErrorContext {
    return { what, brokers: this.options.brokers, identity: this.#identity, ...about }
  }

  /** Fails fast, with the broker addresses in the message, when no broker answers. */
  async connect(): Promise<void> {
    try {
      await this.client.metadata({ topics: [], forceUpdate: true, retries: 1 })
    } catch (error) {
      // Refused credentials or a failed TLS handshake are not a missing broker: say so, not
      // "start a broker".
      const e = this.error(error, 'connect to Kafka')
      if (e.code === 'SLUICE_AUTHENTICATION_FAILED') throw e
      const unavailable = brokerUnavailable(this.options.brokers, 'connect to Kafka', error)
      // A SASL listener closes the connection of a client that does not authenticate.
      if (!this.options.connection.sasl && /closed/i.test(rootMessage(error as Error))) {
        unavailable.message +=
          '; a broker that closes the connection at once may want SASL (kafka://user:pass@host:port?sasl=…) or TLS (kafkas://)'
      }
      throw unavailable
    }
  }

  async metadata(topics: string[], forceUpdate: boolean): Promise<ClusterMetadata> {
    // The client sorts the array it is given in place: always hand it a fresh one.
    return this.client.metadata({ topics: [...topics], forceUpdate })
  }

  /**
   * A topic's partitions and leaders; `fresh` bypasses the client's metadata cache. `operation`
   * is the ACL operation the caller is about to need on the topic: if the metadata is refused,
   * the message advises granting that one (each of Read, Write… implies Describe).
   */
  async topic(name: string, fresh = false, operation?: string): Promise<TopicInfo> {
    let metadata: ClusterMetadata
    for (let attempt = 0; ; attempt++) {
      try {
        // The client retries UNKNOWN_TOPIC_OR_PARTITION like any stale metadata; here it is an
        // answer (createTopic waits until a new topic is in the metadata), so retry only the rest.
        metadata = await this.client.metadata({ topics: [name], forceUpdate: fresh, retries: 0 })
        break
      } catch (error) {
        const e = this.error(error, `read the metadata of topic "${name}"`, {
          topic: name,
          ...(operation === undefined ? {} : { operation }),
        })
        if (!RETRIABLE_METADATA.has(e.code) || attempt >= this.options.retries) throw e
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs))
      }
    }
    const topic = metadata.topics.get(name)
    if (!topic) throw unknownTopic(name, this.options.brokers)
    return {
      name,
      id: topic.id,
      partitions: topic.partitionsCount,
      leaders: topic.partitions.map((p) => p.leader),
    }
  }

  /** The address of a broker by node id, from the metadata the client last fetched. */
  broker(nodeId: number): Broker | undefined {
    return this.client.currentMetadata?.brokers.get(nodeId)
  }

  /** Throws the same error as the embedded log for a partition the topic does not have. */
  async partition(tp: TopicPartition, operation?: string): Promise<TopicInfo> {
    const info = await this.topic(tp.topic, false, operation)
    if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= info.partitions) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `topic "${tp.topic}" has partitions 0..${info.partitions - 1}; there is no partition ${tp.partition}`,
      )
    }
    return info
  }

  async hasTopic(name: string): Promise<boolean> {
    try {
      await this.topic(name, true)
      return true
    } catch (error) {
      if (error instanceof SluiceError && error.code === 'SLUICE_UNKNOWN_TOPIC') return false
      throw error
    }
  }

  async listTopics(): Promise<string[]> {
    try {
      return (await this.client.listTopics()).sort()
    } catch (error) {
      throw this.error(error, 'list topics')
    }
  }

  /**
   * CreateTopics, then waits until every partition has a leader: before that, produce and
   * fetch fail with NOT_LEADER_OR_FOLLOWER, and a caller that just created a topic expects to
   * use it.
   */
  async createTopic(name: string, config: TopicConfig): Promise<void> {
    validateTopicName(name)
    const partitions = config.partitions
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `topic "${name}": partitions must be a whole number from 1 to 10000, got ${partitions}`,
      )
    }
    const configs = topicConfigs(name, config)
    try {
      await this.client.createTopics({
        topics: [name],
        partitions,
        replicas: this.options.replicationFactor,
        configs,
      })
    } catch (error) {
      throw this.error(error, `create topic "${name}"`, { topic: name, operation: 'Create' })
    }
    this.#settings.delete(name)
    await this.#waitFor(`topic "${name}" to get a leader on every partition`, async () => {
      const metadata = await this.metadata([name], true).catch(() => null)
      const topic = metadata?.topics.get(name)
      return (
        topic !== undefined &&
        topic.partitionsCount === partitions &&
        topic.partitions.every((p) => p.leader >= 0)
      )
    })
  }

  /** DeleteTopics, then waits until the metadata no longer lists the topic. */
  async deleteTopic(name: string): Promise<void> {
    await this.topic(name, true)
    try {
      await this.client.deleteTopics({ topics: [name] })
    } catch (error) {
      throw this.error(error, `delete topic "${name}"`, { topic: name, operation: 'Delete' })
    }
    this.#settings.delete(name)
    await this.#waitFor(`topic "${name}" to disappear from the metadata`, async () => {
      try {
        const metadata = await this.client.metadata({ topics: [name], forceUpdate: true, retries: 0 })
        return !metadata.topics.has(name)
      } catch (error) {
        return kafkaErrorIds(error).has('UNKNOWN_TOPIC_OR_PARTITION') || /Unknown topic/.test(String(error))
      }
    })
  }

  /** Kafka's DeleteRecords: the partition's log start offset moves to `offset`. */
  async deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<void> {
    await this.partition(tp, 'Delete')
    try {
      await this.client.deleteRecords({
        topics: [{ name: tp.topic, partitions: [{ partition: tp.partition, offset: BigInt(offset) }] }],
      })
    } catch (error) {
      throw this.error(error, `delete records of ${tp.topic}/${tp.partition} below offset ${offset}`, {
        topic: tp.topic,
        operation: 'Delete',
      })
    }
  }

  /** retention.ms, retention.bytes, cleanup.policy and max.message.bytes, read back. */
  async settings(name: string, maxAgeMs = 0): Promise<TopicSettings> {
    const cached = this.#settings.get(name)
    if (cached && Date.now() - cached.at <= maxAgeMs) return cached.settings
    let described: Awaited<ReturnType<Admin['describeConfigs']>>
    try {
      described = await this.client.describeConfigs({
        resources: [
          { resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: CONFIG_KEYS },
        ],
      })
    } catch (error) {
      throw this.error(error, `describe the settings of topic "${name}"`, {
        topic: name,
        operation: 'DescribeConfigs',
      })
    }
    const values = new Map<string, string | null>()
    for (const c of described[0]?.configs ?? []) values.set(c.name, c.value ?? null)
    const limit = (key: string): number | null => {
      const n = Number(values.get(key) ?? -1)
      return Number.isFinite(n) && n >= 0 ? n : null
    }
    const settings: TopicSettings = {
      retentionMs: limit('retention.ms'),
      retentionBytes: limit('retention.bytes'),
      compact: (values.get('cleanup.policy') ?? '').split(',').includes('compact'),
      maxRecordBytes: limit('max.message.bytes') ?? 1_048_588,
    }
    this.#settings.set(name, { settings, at: Date.now() })
    return settings
  }

  /**
   * The limits the producer checks records against before sending, from `settings`. Producers
   * are usually granted Write and Describe on a topic, not DescribeConfigs: without it the
   * records go unchecked, and the broker's refusals (MESSAGE_TOO_LARGE, INVALID_RECORD) map to
   * the same errors.
   */
  async sendLimits(
    name: string,
    maxAgeMs: number,
  ): Promise<Pick<TopicSettings, 'compact' | 'maxRecordBytes'>> {
    const since = this.#unreadable.get(name)
    if (since !== undefined && Date.now() - since <= maxAgeMs) return UNCHECKED
    try {
      const settings = await this.settings(name, maxAgeMs)
      this.#unreadable.delete(name)
      return settings
    } catch (error) {
      if (!isSluiceError(error, 'SLUICE_NOT_AUTHORIZED')) throw error
      this.#unreadable.set(name, Date.now())
      return UNCHECKED
    }
  }

  /**
   * The topic's settings with each partition's start and end offset (ListOffsets earliest and
   * latest, read_uncommitted: the end is the high watermark, the offset the next record
   * gets). Kafka reports no per-partition byte or batch counts through these APIs, so
   * `bytes` and `batches` are 0.
   */
  async describeTopic(name: string, listOffsets: ListOffsets): Promise<TopicDescription> {
    const info = await this.topic(name, true)
    const settings = await this.settings(name)
    const tps = Array.from({ length: info.partitions }, (_, partition) => ({ topic: name, partition }))
    const [starts, ends] = await Promise.all([listOffsets(tps, -2n, false), listOffsets(tps, -1n, false)])
    return {
      name,
      partitions: info.partitions,
      ...settings,
      partitionDetails: tps.map(({ partition }) => ({
        partition,
        startOffset: starts[partition] ?? 0,
        endOffset: ends[partition] ?? 0,
        bytes: 0,
        batches: 0,
      })),
    }
  }

  async #waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.options.topicReadyTimeoutMs
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      if (await ready()) return
      if (Date.now() > deadline) {
        throw new SluiceError(
          'SLUICE_KAFKA_ERROR',
          `waited ${this.options.topicReadyTimeoutMs} ms for ${what}; check the broker logs (is the controller up?)`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }

  async close(): Promise<void> {
    await this.client.close()
  }
}

/** ListOffsets for partitions of one topic at a Kafka timestamp spec; offsets by partition. */
export type ListOffsets = (
  tps: TopicPartition[],
  timestamp: bigint,
  readCommitted: boolean,
) => Promise<number[]>

/**
 * TopicConfig → Kafka topic configs. An unset `retentionMs` means "keep forever" in Sluice,
 * so it is written as retention.ms=-1 rather than left to the broker default (7 days): a
 * topic then behaves the same on both backends.
 */
function topicConfigs(name: string, config: TopicConfig): { name: string; value: string }[] {
  const out = [
    { name: 'retention.ms', value: String(positiveOr(config.retentionMs, name, 'retentionMs') ?? -1) },
  ]
  const bytes = positiveOr(config.retentionBytes, name, 'retentionBytes')
  if (bytes !== null) out.push({ name: 'retention.bytes', value: String(bytes) })
  if (config.compact) out.push({ name: 'cleanup.policy', value: 'compact' })
  const max = positiveOr(config.maxRecordBytes, name, 'maxRecordBytes')
  if (max !== null) out.push({ name: 'max.message.bytes', value: String(Math.trunc(max)) })
  return out
}

function positiveOr(value: number | undefined, topic: string, what: string): number | null {
  if (value === undefined) return null
  if (!Number.isFinite(value) || value <= 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `topic "${topic}": ${what} must be a positive number, got ${value}`,
    )
  }
  return Math.trunc(value)
}
