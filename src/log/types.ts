/**
 * The `Log` interface: what the engine, the connectors and the server need from a broker.
 * Two implementations: the embedded LMDB log (default) and Apache Kafka. The vocabulary is
 * Kafka's on purpose (topic, partition, offset, consumer group, transaction) so that the
 * Kafka backend is a thin mapping, not a translation.
 */

import type { Bytes } from './bytes.ts'

/** Header values are UTF-8 strings (Kafka allows bytes; Sluice encodes them as UTF-8). */
export type Headers = Record<string, string>

/** A record as a producer hands it to the log. */
export interface ProducerRecord {
  /** Bytes, or a string written as its UTF-8 bytes (read back as bytes). */
  key?: Bytes | null
  /** Bytes or a string, as the key. `null` is a tombstone: on a compacted topic it deletes the key. */
  value: Bytes | null
  headers?: Headers
  /** Event time in ms since the epoch; defaults to the time of the append. */
  timestamp?: number
  /** Overrides the partitioner. */
  partition?: number
}

/** A record as it is stored and read back, with its position in the log. */
export interface LogRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  /**
   * When the log stored the record (ms since the epoch): on the embedded log, always; on Kafka,
   * absent (a topic with message.timestamp.type=LogAppendTime has it as its `timestamp`).
   * `timestamp` is the producer's, often the event time.
   */
  appendTime?: number
  key: Uint8Array | null
  value: Uint8Array | null
  headers: Headers
  /**
   * The value as text, when the log has it at hand (the embedded log, for batches whose keys
   * and values are all ASCII): the same bytes, decoded. A reader that parses text (JSON) saves
   * making a string per record. Absent otherwise: decode `value`. It is a slice of up to 64 KiB
   * of the batch's text: parse it, do not keep it (kept, it keeps that text in memory).
   */
  valueText?: string | undefined
  /** The key as text, under the same condition, for keys shorter than 13 bytes (a copy, safe to keep). */
  keyText?: string | undefined
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number
}

export interface TopicConfig {
  partitions: number
  /** Delete batches whose newest record is older than this (ms). Unset: keep forever. */
  retentionMs?: number
  /** Delete the oldest batches of a partition while it holds more than this (bytes). */
  retentionBytes?: number
  /** Keep only the latest value per key; a `null` value (tombstone) deletes the key. */
  compact?: boolean
  /** Largest accepted record (key + value + headers), bytes. Default 1 MiB. */
  maxRecordBytes?: number
}

export interface PartitionDescription {
  partition: number
  /** The first offset still stored (retention and compaction move it forward). */
  startOffset: number
  /** The offset the next record will get; records are `startOffset .. endOffset - 1`. */
  endOffset: number
  bytes: number
  batches: number
}

export interface TopicDescription extends Required<Omit<TopicConfig, 'retentionMs' | 'retentionBytes'>> {
  name: string
  retentionMs: number | null
  retentionBytes: number | null
  partitionDetails: PartitionDescription[]
}

/** Where the acknowledgement of a record says it landed. */
export interface RecordMetadata {
  partition: number
  offset: number
}

/** Where to start reading a partition. */
export type OffsetSpec = 'earliest' | 'latest' | { offset: number } | { timestamp: number }

export interface FetchOptions {
  /** Most records to return (default 10,000). */
  maxRecords?: number
  /** Stop adding batches after this many bytes (default 16 MiB; at least one batch is returned). */
  maxBytes?: number
  /** Long-poll: when there is nothing at `offset` yet, wait up to this long for an append. */
  waitMs?: number
}

export interface ProducerOptions {
  /**
   * A stable producer identity. With an id, the producer's sequence numbers survive a
   * restart, so a batch retried after a crash is recognised and not appended twice, and a
   * second live producer with the same id fences the first.
   */
  id?: string
  /** How long to wait for more records before sending a partial batch (default 1 ms). */
  lingerMs?: number
  /** Target batch size in bytes (default 256 KiB). */
  batchBytes?: number
  /** Most bytes buffered or in flight before `send` waits (default 32 MiB). */
  maxBufferedBytes?: number
}

export interface Producer {
  /**
   * Appends records to a topic. Resolves once all of them are acknowledged under the log's
   * durability setting, with one metadata entry per record, in input order.
   */
  send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): Promise<RecordMetadata[]>
  /** Sends everything buffered now and waits for it. */
  flush(): Promise<void>
  close(): Promise<void>
}

export type ResetPolicy = 'earliest' | 'latest'

export interface ConsumerOptions {
  group: string
  topics: readonly string[]
  /** Where to start a partition that has no committed offset in the group (default `earliest`). */
  reset?: ResetPolicy
  /** A name for this member in the group (default: generated). */
  memberId?: string
  /**
   * Decides which member owns which partitions at every rebalance (default: each topic's
   * partitions round-robin over its subscribers). The engine assigns whole tasks with it.
   * Every member of a group must use the same assignor.
   */
  assignor?: Assignor
}

/** A group member as an assignor sees it. */
export interface AssignorMember {
  id: string
  topics: readonly string[]
  /** What the member owned before this rebalance, when the backend knows it (for stickiness). */
  owned: readonly TopicPartition[]
  /** The generation `owned` is from, when the backend knows it: the newer of two claims wins. */
  generation?: number
}

/** Member id → the partitions it owns from now on. Partitions left out are owned by nobody. */
export type Assignor = (
  members: readonly AssignorMember[],
  partitionsOf: (topic: string) => number,
) => Map<string, TopicPartition[]>

export interface PollOptions {
  maxRecords?: number
  /** Long-poll: wait up to this long for records when none are available. */
  waitMs?: number
  /**
   * Owned partitions not to read this time; their positions stay where they are (a worker
   * skips the partitions of tasks it is still restoring while the others run).
   */
  skip?: (tp: TopicPartition) => boolean
}

export interface Consumer {
  readonly group: string
  readonly memberId: string
  /** The partitions this member owns right now. */
  assignment(): TopicPartition[]
  /**
   * The group generation this member's assignment belongs to: it grows with every rebalance,
   * so a member can tell that its partitions may have been someone else's in between.
   */
  generation(): number
  /**
   * The generation since which this member has held `tp` without a break, when the backend
   * tracks it (Kafka: a member may see several generations go by between two looks, as an
   * incremental rebalance has two rounds). Undefined when it does not hold `tp`.
   */
  heldSince?(tp: TopicPartition): number | undefined
  poll(options?: PollOptions): Promise<LogRecord[]>
  /** Commits the position after the last record returned by `poll` for each owned partition. */
  commit(): Promise<void>
  seek(tp: TopicPartition, offset: number): void
  /**
   * The next offset this member reads from a partition it owns (undefined before it has
   * resolved one). Past the last polled record, and on Kafka also past transaction markers
   * after it: commit this, or a reader of a transactional topic never reaches its end.
   */
  position(tp: TopicPartition): number | undefined
  close(): Promise<void>
}

/**
 * An atomic unit across partitions: all its appends and consumer-group offsets become
 * visible together, or none of them do. The engine's exactly-once commit is one of these.
 */
export interface Transaction {
  send(topic: string, records: ProducerRecord | readonly ProducerRecord[]): void
  /**
   * Commits group offsets with the transaction. With `generation`, only while the group is in
   * that generation: a member that did its work in generation N must not commit it after a
   * rebalance to N+1 took the partitions away (Kafka checks it in TxnOffsetCommit; the embedded
   * log's groups rebalance synchronously, in the same turn as the commit is queued).
   */
  commitOffsets(
    group: string,
    offsets: readonly TopicPartitionOffset[],
    options?: { generation?: number },
  ): void
  commit(): Promise<Map<string, RecordMetadata[]>>
  abort(): void
}

export interface TransactionOptions {
  /**
   * Like Kafka's `transactional.id`: on Kafka a newer producer with the same id fences older
   * ones. On the embedded log one process owns the data directory (its lock file), which is
   * what fences a zombie process there; the id names the transaction in errors.
   */
  id: string
  /**
   * `false`: `commit()` resolves to an empty map instead of each record's partition and
   * offset, for callers that do not need them (the engine's runners): one object fewer per
   * record. Default true.
   */
  metadata?: boolean
}

export interface Log {
  readonly backend: 'embedded' | 'kafka'
  createTopic(name: string, config: TopicConfig): Promise<TopicDescription>
  deleteTopic(name: string): Promise<void>
  listTopics(): Promise<string[]>
  describeTopic(name: string): Promise<TopicDescription>
  hasTopic(name: string): Promise<boolean>
  producer(options?: ProducerOptions): Producer
  /** Reads committed records of one partition from `offset`. */
  fetch(tp: TopicPartition, offset: number, options?: FetchOptions): Promise<LogRecord[]>
  /** Turns a position (earliest, latest, an offset or a time) into an offset. */
  resolveOffset(tp: TopicPartition, spec: OffsetSpec): Promise<number>
  consumer(options: ConsumerOptions): Consumer
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>
  commitOffsets(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void>
  /**
   * Deletes the records of a partition below `offset` (Kafka's DeleteRecords): its start
   * offset moves there and reads below it fail. For topics whose readers have committed past
   * them, such as repartition topics. An offset at or below the start does nothing; past the
   * end is an error.
   */
  deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<void>
  transaction(options: TransactionOptions): Transaction
  close(): Promise<void>
}
