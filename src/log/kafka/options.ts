import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { BaseOptions, ConnectionOptions } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import { kafkaErrorIds } from './errors.ts'

/** SASL credentials, passed through to the Kafka client. */
export interface KafkaSaslOptions {
  mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
  username: string
  password: string
}

export interface KafkaGroupOptions {
  /**
   * How long the group coordinator waits for a heartbeat before it drops a member and hands
   * its partitions to the others (default 10 s; the broker bounds it by
   * `group.min.session.timeout.ms`, 6 s by default).
   */
  sessionTimeoutMs?: number
  /** How often a member heartbeats; a rebalance reaches a member at its next heartbeat (default 500 ms). */
  heartbeatIntervalMs?: number
  /** How long a rebalance waits for every member to rejoin (default 30 s). */
  rebalanceTimeoutMs?: number
}

export interface KafkaLogOptions {
  /** Bootstrap brokers as `host:port`. */
  brokers: readonly string[]
  /** Prefix of the client ids this log opens (default `sluice`); shows up in broker logs and quotas. */
  clientId?: string
  /** TLS: `true` for the system's CAs, or Node's `tls.connect` options (CA, client certificate…). */
  tls?: boolean | TlsOptions
  sasl?: KafkaSaslOptions
  /** How long to wait for a TCP (and TLS) connection to a broker (default 5 s). */
  connectTimeoutMs?: number
  /** How long to wait for any response; long-poll fetches stay below it (default 30 s). */
  requestTimeoutMs?: number
  /** Retries of a failed request before it fails (default 3). */
  retries?: number
  /** Pause between retries (default 250 ms). */
  retryDelayMs?: number
  /** Replication factor of the topics `createTopic` makes (default 1). */
  replicationFactor?: number
  /** How long `createTopic` and `deleteTopic` wait for the cluster to agree (default 30 s). */
  topicReadyTimeoutMs?: number
  /** Consumer-group timings of `log.consumer()` members (classic group protocol). */
  group?: KafkaGroupOptions
}

/** The options with every default filled in. */
export interface ResolvedKafkaOptions {
  brokers: string[]
  clientId: string
  connection: ConnectionOptions
  connectTimeoutMs: number
  requestTimeoutMs: number
  retries: number
  retryDelayMs: number
  replicationFactor: number
  topicReadyTimeoutMs: number
  group: Required<KafkaGroupOptions>
}

export function resolveOptions(options: KafkaLogOptions): ResolvedKafkaOptions {
  const brokers = [...(options.brokers ?? [])].map((b) => b.trim()).filter((b) => b.length > 0)
  if (brokers.length === 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      'the Kafka backend needs at least one broker address, e.g. { brokers: ["127.0.0.1:9092"] }',
    )
  }
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(broker)) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `broker address "${broker}" is not host:port; write it like "127.0.0.1:9092"`,
      )
    }
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000
  const connection: ConnectionOptions = { connectTimeout: connectTimeoutMs, requestTimeout: requestTimeoutMs }
  if (options.tls) connection.tls = options.tls === true ? {} : options.tls
  if (options.sasl) connection.sasl = { ...options.sasl }
  return {
    brokers,
    clientId: options.clientId ?? 'sluice',
    connection,
    connectTimeoutMs,
    requestTimeoutMs,
    retries: options.retries ?? 3,
    retryDelayMs: options.retryDelayMs ?? 250,
    replicationFactor: options.replicationFactor ?? 1,
    topicReadyTimeoutMs: options.topicReadyTimeoutMs ?? 30_000,
    group: {
      sessionTimeoutMs: options.group?.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.group?.heartbeatIntervalMs ?? 500,
      rebalanceTimeoutMs: options.group?.rebalanceTimeoutMs ?? 30_000,
    },
  }
}

/** Options shared by every client this log opens; `role` tells them apart in broker logs. */
export function clientOptions(options: ResolvedKafkaOptions, role: string): BaseOptions {
  return {
    ...options.connection,
    clientId: `${options.clientId}-${role}`,
    bootstrapBrokers: [...options.brokers],
    retries: options.retries,
    retryDelay: (_client, _operation, attempt, _retries, error) => {
      // The previous transaction's markers are still being written: that takes milliseconds,
      // so a full retry delay would add a quarter second to most back-to-back transactions.
      if (kafkaErrorIds(error).has('CONCURRENT_TRANSACTIONS')) {
        return Math.min(10 * 2 ** attempt, options.retryDelayMs)
      }
      return options.retryDelayMs
    },
  }
}
