import type { Duration } from '../util/duration.ts'
import type { Aggregator } from './aggregations.ts'
import type { PatternSpec } from './pattern.ts'
import type { Processor } from './processor.ts'
import type { TopicDef } from './topic.ts'
import type { WindowSpec } from './windows.ts'

/**
 * The logical graph the DSL records. Each builder call adds one node pointing at its
 * parent(s); the compile step (topology/compile.ts) turns the graph into tasks.
 */
export type LogicalNode =
  | SourceNode
  | { kind: 'map'; fn: (value: unknown) => unknown }
  | { kind: 'filter'; fn: (value: unknown) => boolean }
  | { kind: 'flatMap'; fn: (value: unknown) => Iterable<unknown> }
  | { kind: 'peek'; fn: (value: unknown) => void }
  | { kind: 'forEach'; fn: (value: unknown) => void }
  | { kind: 'keyBy'; fn: (value: unknown) => string | number }
  | { kind: 'merge' }
  | { kind: 'sink'; topic: TopicDef<unknown> }
  | WindowAggregateNode
  | { kind: 'aggregate'; aggregator: Aggregator<unknown, unknown, unknown> }
  | { kind: 'process'; processor: Processor<unknown, unknown, unknown> }
  | MapAsyncNode
  | TableNode
  | StreamTableJoinNode
  | StreamJoinNode
  | { kind: 'to-table' }
  | { kind: 'global-table'; topic: TopicDef<unknown> }
  | TableJoinNode
  | { kind: 'match'; pattern: PatternSpec; skip: 'past-last-event' | 'none' }
  | { kind: 'dedupe'; id: ((value: unknown) => string | number) | undefined; within: number }

export interface SourceNode {
  kind: 'source'
  topic: TopicDef<unknown>
  watermark: WatermarkOptions
}

/**
 * Joins two tables on their keys into a table: every update of either side updates the result
 * for its key (a delete when the join type has no result for it). Parents: left, right.
 */
export interface TableJoinNode {
  kind: 'table-join'
  joiner: (left: unknown, right: unknown) => unknown
  type: 'inner' | 'left' | 'outer'
}

/** A table read from a topic: the latest value per key, tombstones delete (table.ts). */
export interface TableNode {
  kind: 'table'
  topic: TopicDef<unknown>
  watermark: WatermarkOptions
}

/**
 * Enriches each stream record with the table's value for its key. Parents: the stream, then
 * the table node (which puts both in one task: they must be co-partitioned).
 */
export interface StreamTableJoinNode {
  kind: 'stream-table-join'
  table: GraphNode
  joiner: (value: unknown, row: unknown) => unknown
  type: 'inner' | 'left'
  /** `event-time`: the table's value as of the record's event time; `latest`: as of now. */
  version: 'event-time' | 'latest'
  /** Global tables only: the key to look up (default: the record key), e.g. a foreign key. */
  lookup: ((value: unknown) => string | number) | undefined
}

/**
 * Pairs records of two streams with the same key whose event times are close: a right record
 * at time r joins a left record at time l when l − before ≤ r ≤ l + after. Parents: left, right.
 */
export interface StreamJoinNode {
  kind: 'stream-join'
  joiner: (left: unknown, right: unknown) => unknown
  type: 'inner' | 'left' | 'outer'
  before: number
  after: number
  allowedLateness: number
}

export interface WindowAggregateNode {
  kind: 'window-aggregate'
  window: WindowSpec
  aggregator: Aggregator<unknown, unknown, unknown>
  allowedLateness: number
  late: TopicDef<unknown> | undefined
  emit: 'final' | 'update'
}

export interface MapAsyncNode {
  kind: 'mapAsync'
  fn: (value: unknown) => Promise<unknown>
  concurrency: number
}

export interface WatermarkOptions {
  /** How far behind the newest event time records may arrive and still count as on time. */
  maxOutOfOrder?: Duration
  /** A partition with no records for this long (processing time) stops holding the watermark. */
  idleAfter?: Duration
  /** Opt-in: while every input is idle, advance event time with the wall clock. */
  advance?: 'processing-time'
}

/** A node in the graph: its operation, its stable name, and where its input comes from. */
export interface GraphNode {
  readonly id: number
  readonly op: LogicalNode
  /** The user's name, when given. Stateful nodes must have one (or inherit one). */
  readonly name: string | undefined
  readonly parents: readonly GraphNode[]
}

/** Stateful operations: their names key their state, so they are never positional. */
export function isStateful(op: LogicalNode): boolean {
  return (
    op.kind === 'window-aggregate' ||
    op.kind === 'aggregate' ||
    op.kind === 'process' ||
    op.kind === 'table' ||
    op.kind === 'to-table' ||
    op.kind === 'table-join' ||
    op.kind === 'stream-table-join' ||
    op.kind === 'stream-join' ||
    op.kind === 'dedupe' ||
    op.kind === 'match'
  )
}
