import {
  type API,
  type Broker,
  type Connection,
  ConnectionPool,
  FetchIsolationLevels,
  type fetchV17,
  kGetApi,
  protocolErrorsCodesById,
} from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import type { LogRecord, TopicPartition } from '../types.ts'
import type { KafkaAdmin, TopicInfo } from './admin.ts'
import { brokerUnavailable, partitionError, unknownTopic } from './errors.ts'
import { committedRecords } from './records.ts'

type FetchApi = API<fetchV17.FetchRequest, fetchV17.FetchResponse>
type FetchedPartition = fetchV17.FetchResponsePartition

export interface PartitionRead {
  tp: TopicPartition
  offset: number
}

export interface PartitionResult {
  records: LogRecord[]
  /** Where the next read of this partition starts (past skipped transaction markers too). */
  nextOffset: number
  /** SLUICE_OFFSET_OUT_OF_RANGE for this partition; other failures reject the whole fetch. */
  error: SluiceError | null
}

export interface ReadOptions {
  /** Long-poll: how long the broker may wait for a first byte when there is nothing to read. */
  waitMs: number
  maxBytes: number
  /** Most records in all, handed out to the partitions in request order. */
  maxRecords: number
}

const OFFSET_OUT_OF_RANGE = 1
/** Partition errors that mean "your metadata is stale": refresh it and ask the new leader. */
const STALE_METADATA = new Set([3, 5, 6, 74, 75, 100])
/** Sessionless fetch (KIP-227): session id 0 with the final epoch asks for a full fetch, no session. */
const NO_SESSION_ID = 0
const NO_SESSION_EPOCH = -1
/** More concurrent fetches than this wait for a connection to come free. */
const MAX_CONNECTIONS = 32

/**
 * Direct, sessionless Fetch requests with read_committed isolation, on connections of their
 * own. The client's `Consumer.fetch` keeps one incremental fetch session per broker, which
 * concurrent reads of different partitions invalidate (INVALID_FETCH_SESSION_EPOCH, then a
 * retry after the retry delay); and the broker answers one request per connection at a time,
 * so a long poll would hold up every other request on a shared connection. Each fetch
 * therefore borrows a connection pool for its duration.
 */
export class Fetcher {
  readonly #admin: KafkaAdmin
  readonly #idle: ConnectionPool[] = []
  readonly #pools = new Set<ConnectionPool>()
  /** Fetches waiting for a connection; `null` when the fetcher closed meanwhile. */
  #waiting: Array<(pool: ConnectionPool | null) => void> = []
  #api: Promise<FetchApi> | null = null
  #closed = false

  constructor(admin: KafkaAdmin) {
    this.#admin = admin
  }

  /**
   * Reads partitions from their offsets. Returns one result per request, in order. With
   * `waitMs`, resolves as soon as some partition has committed records, or after `waitMs`.
   */
  async read(reads: readonly PartitionRead[], options: ReadOptions): Promise<PartitionResult[]> {
    const results: PartitionResult[] = reads.map((r) => ({ records: [], nextOffset: r.offset, error: null }))
    let pending = reads.map((_, i) => i)
    const retries = this.#admin.options.retries
    let budget = options.maxRecords
    for (let attempt = 0; pending.length > 0; attempt++) {
      const fresh = attempt > 0
      if (fresh) await new Promise((resolve) => setTimeout(resolve, this.#admin.options.retryDelayMs))
      if (this.#closed) return results
      const topics = new Map<string, TopicInfo>()
      for (const i of pending) {
        const topic = reads[i]!.tp.topic
        if (!topics.has(topic)) topics.set(topic, await this.#admin.topic(topic, fresh, 'Read'))
      }
      const byLeader = new Map<number, number[]>()
      for (const i of pending) {
        const { tp } = reads[i]!
        const info = topics.get(tp.topic)!
        if (tp.partition >= info.partitions) {
          throw new SluiceError(
            'SLUICE_INVALID_ARGUMENT',
            `topic "${tp.topic}" has partitions 0..${info.partitions - 1}; there is no partition ${tp.partition}`,
          )
        }
        const leader = info.leaders[tp.partition] ?? -1
        const list = byLeader.get(leader) ?? []
        byLeader.set(leader, list)
        list.push(i)
      }
      const stale: number[] = []
      let networkError: SluiceError | null = null
      // A retry after some partitions answered must not long-poll: there is data to hand back.
      const attemptOptions = budget < options.maxRecords ? { ...options, waitMs: 0 } : options
      const responses = await Promise.all(
        [...byLeader].map(async ([leader, indexes]) => {
          const broker = leader >= 0 ? this.#admin.broker(leader) : undefined
          if (!broker) return { indexes, partitions: null }
          return {
            indexes,
            partitions: await this.#fetchFrom(broker, indexes, reads, topics, attemptOptions),
          }
        }),
      )
      for (const { indexes, partitions } of responses) {
        if (partitions instanceof SluiceError) networkError = partitions
        for (const i of indexes) {
          const { tp, offset } = reads[i]!
          const fetched = partitions instanceof Map ? partitions.get(i) : undefined
          if (!fetched || STALE_METADATA.has(fetched.errorCode)) {
            stale.push(i)
            continue
          }
          if (fetched.errorCode === OFFSET_OUT_OF_RANGE) {
            results[i]!.error = outOfRange(tp, offset, fetched)
            continue
          }
          if (fetched.errorCode !== 0) {
            const name = protocolErrorsCodesById[fetched.errorCode] ?? `error ${fetched.errorCode}`
            throw partitionError(
              name,
              this.#admin.context(`read topic "${tp.topic}" partition ${tp.partition}`, {
                topic: tp.topic,
                operation: 'Read',
              }),
            )
          }
          const read = committedRecords(
            tp,
            fetched.records ?? [],
            fetched.abortedTransactions,
            offset,
            budget,
          )
          budget -= read.records.length
          results[i] = { records: read.records, nextOffset: read.nextOffset, error: null }
        }
      }
      if (stale.length > 0 && attempt >= retries) {
        const { tp } = reads[stale[0]!]!
        if (networkError) throw networkError
        if (!(await this.#admin.hasTopic(tp.topic))) throw unknownTopic(tp.topic, this.#admin.options.brokers)
        throw new SluiceError(
          'SLUICE_KAFKA_ERROR',
          `cannot read topic "${tp.topic}" partition ${tp.partition}: it has no reachable leader after ${retries + 1} tries`,
        )
      }
      pending = stale
    }
    return results
  }

  async #fetchFrom(
    broker: Broker,
    indexes: readonly number[],
    reads: readonly PartitionRead[],
    topics: ReadonlyMap<string, TopicInfo>,
    options: ReadOptions,
  ): Promise<Map<number, FetchedPartition> | SluiceError> {
    const api = await this.#fetchApi()
    // Fetch v13+ names topics by id, older versions by name.
    const idOf = (info: TopicInfo) => (api.version >= 13 ? info.id : info.name)
    const requestTopics = new Map<string, fetchV17.FetchRequestTopic>()
    const wanted = new Map<string, number>()
    for (const i of indexes) {
      const { tp, offset } = reads[i]!
      const topicId = idOf(topics.get(tp.topic)!)
      const topic = requestTopics.get(topicId) ?? { topicId, partitions: [] }
      requestTopics.set(topicId, topic)
      topic.partitions.push({
        partition: tp.partition,
        fetchOffset: BigInt(offset),
        currentLeaderEpoch: -1,
        lastFetchedEpoch: -1,
        partitionMaxBytes: options.maxBytes,
      })
      wanted.set(`${topicId}\0${tp.partition}`, i)
    }
    // The broker must answer before the connection's request timeout gives up on it.
    const maxWaitMs = Math.max(0, Math.min(options.waitMs, this.#admin.options.requestTimeoutMs - 1_000))
    const pool = await this.#take()
    if (!pool) return new Map()
    let response: fetchV17.FetchResponse
    try {
      const connection: Connection = await pool.get(broker)
      response = await api.async(
        connection,
        maxWaitMs,
        1,
        options.maxBytes,
        FetchIsolationLevels.READ_COMMITTED,
        NO_SESSION_ID,
        NO_SESSION_EPOCH,
        [...requestTopics.values()],
        [],
        '',
      )
    } catch (error) {
      // Partition-level errors arrive as a ResponseError that still carries the response.
      const partial = (error as { response?: fetchV17.FetchResponse }).response
      if (partial?.errorCode !== 0) {
        this.#discard(pool)
        if (this.#closed) return new Map()
        const e = this.#admin.error(error, 'fetch records', { operation: 'Read' })
        // A dropped connection or a broker that went away: the caller refreshes the metadata
        // and asks again (the partitions come back as missing from the answer).
        if (e.code === 'SLUICE_BROKER_UNAVAILABLE') return e
        throw e
      }
      response = partial
    }
    this.#give(pool)
    const out = new Map<number, FetchedPartition>()
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        const i = wanted.get(`${topic.topicId}\0${partition.partitionIndex}`)
        if (i !== undefined) out.set(i, partition)
      }
    }
    return out
  }

  #fetchApi(): Promise<FetchApi> {
    this.#api ??= new Promise<FetchApi>((resolve, reject) => {
      this.#admin.client[kGetApi]<fetchV17.FetchRequest, fetchV17.FetchResponse>('Fetch', (error, api) => {
        if (api && !error) {
          resolve(api)
          return
        }
        // Refused credentials say so; anything else is a broker out of reach, to ask again.
        const e = this.#admin.error(error, 'fetch records')
        reject(
          e.code === 'SLUICE_AUTHENTICATION_FAILED'
            ? e
            : brokerUnavailable(this.#admin.options.brokers, 'fetch records', error),
        )
      })
    })
    this.#api.catch(() => {
      this.#api = null
    })
    return this.#api
  }

  async #take(): Promise<ConnectionPool | null> {
    if (this.#closed) return null
    const idle = this.#idle.pop()
    if (idle) return idle
    if (this.#pools.size < MAX_CONNECTIONS) {
      const { clientId, connection } = this.#admin.options
      const pool = new ConnectionPool(`${clientId}-fetch`, connection)
      this.#pools.add(pool)
      return pool
    }
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  #give(pool: ConnectionPool): void {
    if (this.#closed) {
      void pool.close().catch(() => {})
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter) waiter(pool)
    else this.#idle.push(pool)
  }

  /** A pool whose request failed may hold a broken connection: replace it. */
  #discard(pool: ConnectionPool): void {
    this.#pools.delete(pool)
    void pool.close().catch(() => {})
    const waiter = this.#waiting.shift()
    if (waiter && !this.#closed) {
      const { clientId, connection } = this.#admin.options
      const fresh = new ConnectionPool(`${clientId}-fetch`, connection)
      this.#pools.add(fresh)
      waiter(fresh)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#idle.length = 0
    for (const waiter of this.#waiting.splice(0)) waiter(null)
    await Promise.allSettled([...this.#pools].map((p) => p.close()))
    this.#pools.clear()
  }
}

function outOfRange(tp: TopicPartition, offset: number, fetched: FetchedPartition): SluiceError {
  const start = Number(fetched.logStartOffset)
  const end = Number(fetched.highWatermark)
  const stored = start >= 0 && end >= 0 ? ` (stored: ${start}..${end - 1})` : ''
  return new SluiceError(
    'SLUICE_OFFSET_OUT_OF_RANGE',
    `offset ${offset} is outside topic "${tp.topic}" partition ${tp.partition}${stored}; read from earliest or latest instead`,
  )
}
