import { type Duration, parseDuration } from '../util/duration.ts'
import type { GraphNode, LogicalNode, WatermarkOptions } from './nodes.ts'
import { Stream } from './stream.ts'
import { Table } from './table.ts'
import type { TopicDef } from './topic.ts'

/** What happens when a step throws or a record fails validation. */
export interface ErrorPolicy {
  /**
   * Retries of a `mapAsync` call that rejects, before its record is given up on (default 0).
   * Synchronous steps are not retried: the same record fails the same way again.
   */
  retries?: number
  /** Wait before the first retry; doubles each time (default 100 ms). */
  backoff?: Duration
  /** After the retries: `dead-letter` (default) writes the record to the dead-letter topic; `stop` stops the pipeline. */
  afterRetries?: 'dead-letter' | 'stop'
}

export interface PipelineOptions {
  errors?: ErrorPolicy
  /** Dead-letter topic name (default `<pipeline>-dlq`). */
  deadLetter?: string
}

export interface SourceOptions {
  watermark?: WatermarkOptions
}

export interface TableOptions {
  /** The table's step name and state store (`<pipeline>.<name>`); default `<topic>-table`. */
  name?: string
  /**
   * Event time of the table's updates. `idleAfter` defaults to 1 s for tables (30 s for
   * streams): reference data is mostly quiet, and a quiet table must not hold back the
   * stream records that wait for its event time (see Stream.join).
   */
  watermark?: WatermarkOptions
}

/**
 * A named dataflow from source topics to sinks. Its name is the consumer group and the
 * prefix of its internal topics and state.
 * @example
 * const p = pipeline('card-velocity')
 * p.from(txns).filter((t) => t.amount > 0).to(alerts)
 */
export class Pipeline {
  readonly name: string
  readonly options: Required<Omit<PipelineOptions, 'errors'>> & { errors: Required<ErrorPolicy> }
  readonly nodes: GraphNode[] = []

  constructor(name: string, options: PipelineOptions = {}) {
    if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
      throw new TypeError(`pipeline name "${name}" may only use letters, digits, ".", "_" and "-"`)
    }
    this.name = name
    this.options = {
      deadLetter: options.deadLetter ?? `${name}-dlq`,
      errors: {
        retries: options.errors?.retries ?? 0,
        backoff: parseDuration(options.errors?.backoff ?? 100, 'errors.backoff'),
        afterRetries: options.errors?.afterRetries ?? 'dead-letter',
      },
    }
  }

  /**
   * Reads a topic. Reading the same topic again returns the same stream (one source, one
   * set of watermarks); asking for it with different watermark options is an error.
   */
  from<T>(topic: TopicDef<T>, options: SourceOptions = {}): Stream<T> {
    const watermark = options.watermark ?? {}
    if (this.nodes.some((n) => n.op.kind === 'table' && n.op.topic.name === topic.name)) {
      throw new TypeError(
        `pipeline "${this.name}" already reads topic "${topic.name}" as a table; read a topic once per pipeline`,
      )
    }
    const existing = this.nodes.find((n) => n.op.kind === 'source' && n.op.topic.name === topic.name)
    if (existing) {
      if (JSON.stringify((existing.op as { watermark: unknown }).watermark) !== JSON.stringify(watermark)) {
        throw new TypeError(
          `pipeline "${this.name}" reads topic "${topic.name}" twice with different watermark options; read it once and reuse the stream`,
        )
      }
      return new Stream<T>(this, existing)
    }
    const op: LogicalNode = { kind: 'source', topic: topic as TopicDef<unknown>, watermark }
    return new Stream<T>(this, this.addNode(op, topic.name, []))
  }

  /**
   * Reads a topic as a table: the latest value per key (a record upserts its key, a tombstone
   * deletes it). Join streams with it: `stream.join(table, …)`.
   */
  table<T>(topic: TopicDef<T>, options: TableOptions = {}): Table<T> {
    const clash = this.nodes.find(
      (n) => (n.op.kind === 'source' || n.op.kind === 'table') && n.op.topic.name === topic.name,
    )
    if (clash) {
      throw new TypeError(
        `pipeline "${this.name}" already reads topic "${topic.name}" as a ${clash.op.kind === 'table' ? 'table' : 'stream'}; ` +
          'read a topic once per pipeline and reuse what it returns',
      )
    }
    const op: LogicalNode = {
      kind: 'table',
      topic: topic as TopicDef<unknown>,
      watermark: options.watermark ?? {},
    }
    return new Table<T>(this, this.addNode(op, options.name ?? `${topic.name}-table`, []))
  }

  /**
   * Reads a topic as a global table: every task — every worker — holds all of it, read from
   * every partition and kept up to date as it changes. For small reference data (currencies,
   * products, customers): a stream joins it by any key, with no repartition and no
   * co-partitioning — `orders.join(customers, joiner, { key: (o) => o.customerId })`.
   * Joins see its latest value (it is read beside the tasks, not in step with their event time).
   */
  globalTable<T>(topic: TopicDef<T>, options: { name?: string } = {}): Table<T> {
    const clash = this.nodes.find(
      (n) =>
        (n.op.kind === 'source' || n.op.kind === 'table' || n.op.kind === 'global-table') &&
        n.op.topic.name === topic.name,
    )
    if (clash) {
      throw new TypeError(
        `pipeline "${this.name}" already reads topic "${topic.name}"; read a topic once per pipeline and reuse what it returns`,
      )
    }
    const op: LogicalNode = { kind: 'global-table', topic: topic as TopicDef<unknown> }
    return new Table<T>(this, this.addNode(op, options.name ?? `${topic.name}-global`, []))
  }

  addNode(op: LogicalNode, name: string | undefined, parents: readonly GraphNode[]): GraphNode {
    for (const p of parents) {
      if (!this.nodes.includes(p))
        throw new TypeError(`pipeline "${this.name}": cannot connect streams of another pipeline`)
    }
    const node: GraphNode = { id: this.nodes.length, op, name, parents }
    this.nodes.push(node)
    return node
  }
}

const registry: Pipeline[] = []

/**
 * Declares a pipeline. Pipelines declared in a file are what `sluice run file.ts` runs.
 */
export function pipeline(name: string, options: PipelineOptions = {}): Pipeline {
  const p = new Pipeline(name, options)
  registry.push(p)
  return p
}

/** Pipelines declared so far in this process (what `sluice run` picks up). */
export function declaredPipelines(): readonly Pipeline[] {
  return registry
}
