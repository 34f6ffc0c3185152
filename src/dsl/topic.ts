import { validateTopicName } from '../log/topic-name.ts'
import { type Codec, jsonCodec } from './codec.ts'
import type { StandardSchemaV1 } from './schema.ts'

/** A typed handle on a topic: what its records hold and how to read their key and time. */
export interface TopicDef<T> {
  readonly name: string
  readonly schema: StandardSchemaV1<unknown, T> | undefined
  readonly codec: Codec<T>
  /** The record key, when the producer did not set one. */
  readonly key: ((value: T) => string) | undefined
  /** Event time of a record (ms, ISO string or Date); default: the record's log timestamp. */
  readonly timestamp: ((value: T) => EventTime) | undefined
  /** Partitions to create the topic with when it does not exist (default 1 for outputs). */
  readonly partitions: number | undefined
  /** Phantom field carrying the record type. */
  readonly __type?: T
}

export interface TopicOptions<T> {
  schema?: StandardSchemaV1<unknown, T>
  codec?: Codec<T>
  key?: (value: T) => string
  timestamp?: (value: T) => EventTime
  partitions?: number
}

/** Event time as ms since the epoch, an ISO-8601 string or a Date. */
export type EventTime = number | string | Date

/**
 * Declares a topic. With a Standard Schema (zod, valibot, arktype…) records are validated
 * when read and the type is inferred; invalid records go to the dead-letter topic.
 * @example
 * const txns = topic('transactions', { schema: Txn, key: (t) => t.cardId, timestamp: (t) => t.at })
 * const alerts = topic<Alert>('alerts')
 */
export function topic<T = unknown>(name: string, options: TopicOptions<T> = {}): TopicDef<T> {
  validateTopicName(name)
  return {
    name,
    schema: options.schema,
    codec: options.codec ?? (jsonCodec as Codec<T>),
    key: options.key,
    timestamp: options.timestamp,
    partitions: options.partitions,
  }
}
