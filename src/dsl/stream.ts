import { type Duration, parseDuration } from '../util/duration.ts'
import type { Aggregator } from './aggregations.ts'
import type { GraphNode, LogicalNode } from './nodes.ts'
import type { Match, Pattern } from './pattern.ts'
import type { Pipeline } from './pipeline.ts'
import type { Processor } from './processor.ts'
import { Table } from './table.ts'
import type { TopicDef } from './topic.ts'
import type { Window, WindowSpec } from './windows.ts'

/** What a windowed aggregation emits. */
export interface Windowed<R> {
  readonly key: string
  readonly start: number
  readonly end: number
  readonly value: R
}

/** What a running (unwindowed) aggregation emits on every update. */
export interface Keyed<R> {
  readonly key: string
  readonly value: R
}

/** Where records can be written: only the encoder matters, so a topic of a supertype fits. */
export interface SinkTopic<in T> {
  readonly name: string
  readonly codec: { readonly encode: (value: T) => Uint8Array }
}

export interface NameOption {
  /** A stable name: shown by describe(); for stateful steps, it names the state. */
  name?: string
}

export interface JoinOptions<T = unknown> extends NameOption {
  /**
   * Which of the table's values a record joins:
   * - `event-time` (default): the value the table had at the record's event time. A record
   *   whose event time the table has not reached yet (its watermark, or it is idle) waits in
   *   state until it has, so an update appended to the table after the record, but earlier
   *   in event time, is still the one it joins. Results are the same on every replay.
   * - `latest`: the table's value when the record is processed. No waiting, but the result
   *   depends on how far the table had been read.
   */
  version?: 'event-time' | 'latest'
  /**
   * Global tables only: the key to look up, from the record (default: the record key) — a
   * foreign key such as `(order) => order.customerId`.
   */
  key?: (value: T) => string | number
}

/** How close in event time two streams' records must be to join (stream–stream joins). */
export interface StreamJoinOptions {
  /** The join's name: its state store is `<pipeline>.<name>`. */
  name: string
  /** Records at most this far apart, either way (Kafka Streams' join window). */
  within?: Duration
  /** Or asymmetric bounds: the other record from `before` earlier … */
  before?: Duration
  /** … to `after` later than this one (Flink's interval join). */
  after?: Duration
  /** Records up to this far behind the watermark still join; later ones are dropped. */
  allowedLateness?: Duration
}

export interface WindowOptions<T = unknown> {
  /** Records up to this late (behind the watermark) still update their window. */
  allowedLateness?: Duration
  /** Where records too late for any open window go (default: dropped and counted). */
  late?: SinkTopic<T>
  /** `final` (default): one result per window when it closes. `update`: a result per change. */
  emit?: 'final' | 'update'
}

/**
 * An immutable stream of `T`. Every method returns a new stream; calling two methods on the
 * same stream fans it out to both.
 */
export class Stream<T> {
  readonly pipeline: Pipeline
  readonly node: GraphNode

  constructor(pipeline: Pipeline, node: GraphNode) {
    this.pipeline = pipeline
    this.node = node
  }

  protected add(op: LogicalNode, name?: string, parents: readonly GraphNode[] = [this.node]): GraphNode {
    return this.pipeline.addNode(op, name, parents)
  }

  map<U>(fn: (value: T) => U, options: NameOption = {}): Stream<U> {
    return new Stream<U>(
      this.pipeline,
      this.add({ kind: 'map', fn: fn as (v: unknown) => unknown }, options.name),
    )
  }

  filter<S extends T>(fn: (value: T) => value is S, options?: NameOption): Stream<S>
  filter(fn: (value: T) => boolean, options?: NameOption): Stream<T>
  filter(fn: (value: T) => boolean, options: NameOption = {}): Stream<T> {
    return new Stream<T>(
      this.pipeline,
      this.add({ kind: 'filter', fn: fn as (v: unknown) => boolean }, options.name),
    )
  }

  flatMap<U>(fn: (value: T) => Iterable<U>, options: NameOption = {}): Stream<U> {
    const op = { kind: 'flatMap' as const, fn: fn as (v: unknown) => Iterable<unknown> }
    return new Stream<U>(this.pipeline, this.add(op, options.name))
  }

  /** Sees each record without changing it (logging, metrics). */
  peek(fn: (value: T) => void, options: NameOption = {}): Stream<T> {
    return new Stream<T>(
      this.pipeline,
      this.add({ kind: 'peek', fn: fn as (v: unknown) => void }, options.name),
    )
  }

  /**
   * Re-keys the stream. Records are written to an internal repartition topic so that all
   * records of a key meet in one task. Its name comes from `name`, or else from the next
   * stateful step's name, so it is stable when steps are added in front.
   */
  keyBy(fn: (value: T) => string | number, options: NameOption = {}): KeyedStream<T> {
    const op = { kind: 'keyBy' as const, fn: fn as (v: unknown) => string | number }
    return new KeyedStream<T>(this.pipeline, this.add(op, options.name))
  }

  /** Treats the records' existing keys as the grouping key (no repartition). */
  keyed(): KeyedStream<T> {
    return new KeyedStream<T>(this.pipeline, this.node)
  }

  merge(...others: Stream<T>[]): Stream<T> {
    return new Stream<T>(
      this.pipeline,
      this.add({ kind: 'merge' }, undefined, [this.node, ...others.map((o) => o.node)]),
    )
  }

  /**
   * Splits the stream by predicates; each record goes to the first branch that matches, or
   * to `default`.
   * @example const { big, small } = payments.split({ big: (p) => p.amount > 1000, small: () => true })
   */
  split<K extends string>(
    branches: Record<K, (value: T) => boolean>,
    options: NameOption = {},
  ): Record<K | 'default', Stream<T>> {
    const names = Object.keys(branches) as K[]
    const preds = names.map((n) => branches[n])
    const result = {} as Record<K | 'default', Stream<T>>
    // Branches are named <split>-<branch>; a second split in the pipeline becomes split2, …
    const base = options.name ?? 'split'
    let prefix = base
    for (let k = 2; this.pipeline.nodes.some((n) => n.name === `${prefix}-default`); k++)
      prefix = `${base}${k}`
    names.forEach((n, i) => {
      result[n] = this.filter((v) => preds.findIndex((p) => p(v)) === i, { name: `${prefix}-${n}` })
    })
    result.default = this.filter((v) => !preds.some((p) => p(v)), { name: `${prefix}-default` })
    return result
  }

  /**
   * Enriches each record with the table's value for the record's key (inner join: records
   * with no value for their key are dropped). The stream must be keyed like the table: its
   * records' keys are the table's keys (keyBy to re-key it), in as many partitions.
   * Default name: `<table>-join`. See JoinOptions for which version of the table a record sees.
   * @example orders.keyBy((o) => o.customerId).join(customers, (o, c) => ({ ...o, tier: c.tier }))
   */
  join<V, U>(table: Table<V>, joiner: (value: T, row: V) => U, options?: JoinOptions<T>): Stream<U>
  /**
   * Joins another stream keyed the same way (co-partitioned): every pair of records with the
   * same key whose event times are `within` each other (or `before`/`after` this record)
   * yields `joiner(left, right)`, at the later of the two times. Inner: only pairs.
   * Buffered records leave state once the watermark has passed their window + lateness.
   * @example clicks.join(views, (c, v) => ({ ...c, view: v.page }), { name: 'click-view', within: '5m' })
   */
  join<V, U>(other: Stream<V>, joiner: (left: T, right: V) => U, options: StreamJoinOptions): Stream<U>
  join<V, U>(
    other: Table<V> | Stream<V>,
    joiner: (left: T, right: V) => U,
    options?: JoinOptions<T> | StreamJoinOptions,
  ): Stream<U> {
    const j = joiner as (left: T, right: V | undefined) => U
    if (other instanceof Stream) return this.#streamJoin(other, j, 'inner', options as StreamJoinOptions)
    return this.#join(other, j, 'inner', (options ?? {}) as JoinOptions<T>)
  }

  /** Like `join`, but records with no table value for their key are kept: `row` is undefined. */
  leftJoin<V, U>(
    table: Table<V>,
    joiner: (value: T, row: V | undefined) => U,
    options?: JoinOptions<T>,
  ): Stream<U>
  /**
   * Like the stream–stream `join`, and a left record that found no partner by the time its
   * window closed (watermark past its time + `after` + lateness) is emitted once with
   * `right` undefined.
   */
  leftJoin<V, U>(
    other: Stream<V>,
    joiner: (left: T, right: V | undefined) => U,
    options: StreamJoinOptions,
  ): Stream<U>
  leftJoin<V, U>(
    other: Table<V> | Stream<V>,
    joiner: (left: T, right: V | undefined) => U,
    options?: JoinOptions<T> | StreamJoinOptions,
  ): Stream<U> {
    if (other instanceof Stream) return this.#streamJoin(other, joiner, 'left', options as StreamJoinOptions)
    return this.#join(other, joiner, 'left', (options ?? {}) as JoinOptions<T>)
  }

  /**
   * A stream–stream join that also emits unpaired records of either side once their window
   * closes, with the missing side undefined.
   */
  outerJoin<V, U>(
    other: Stream<V>,
    joiner: (left: T | undefined, right: V | undefined) => U,
    options: StreamJoinOptions,
  ): Stream<U> {
    return this.#streamJoin(other, joiner as (left: T, right: V | undefined) => U, 'outer', options)
  }

  #streamJoin<V, U>(
    other: Stream<V>,
    joiner: (left: T, right: V | undefined) => U,
    type: 'inner' | 'left' | 'outer',
    options: StreamJoinOptions,
  ): Stream<U> {
    if (other.pipeline !== this.pipeline) {
      throw new TypeError(`pipeline "${this.pipeline.name}": cannot join a stream of another pipeline`)
    }
    const within = options.within === undefined ? undefined : parseDuration(options.within, 'within')
    const before = options.before === undefined ? within : parseDuration(options.before, 'before')
    const after = options.after === undefined ? within : parseDuration(options.after, 'after')
    if (before === undefined || after === undefined) {
      throw new TypeError(
        `join "${options.name}": say how close in event time records must be: { within: '5m' } or { before, after }`,
      )
    }
    const op: LogicalNode = {
      kind: 'stream-join',
      joiner: joiner as (left: unknown, right: unknown) => unknown,
      type,
      before,
      after,
      allowedLateness: parseDuration(options.allowedLateness ?? 0, 'allowedLateness'),
    }
    return new Stream<U>(this.pipeline, this.add(op, options.name, [this.node, other.node]))
  }

  #join<V, U>(
    table: Table<V>,
    joiner: (value: T, row: V | undefined) => U,
    type: 'inner' | 'left',
    options: JoinOptions<T>,
  ): Stream<U> {
    if (table.pipeline !== this.pipeline) {
      throw new TypeError(`pipeline "${this.pipeline.name}": cannot join a table of another pipeline`)
    }
    const global = table.node.op.kind === 'global-table'
    if (options.key && !global) {
      throw new TypeError(
        `join with table "${table.name}": { key } looks up a global table; a partitioned table is joined on the record key (keyBy first)`,
      )
    }
    const op: LogicalNode = {
      kind: 'stream-table-join',
      table: table.node,
      joiner: joiner as (value: unknown, row: unknown) => unknown,
      type,
      // A global table is read beside the tasks: its latest value is the only one there is.
      version: global ? 'latest' : (options.version ?? 'event-time'),
      lookup: options.key as ((value: unknown) => string | number) | undefined,
    }
    const name = options.name ?? `${table.name}-join`
    return new Stream<U>(this.pipeline, this.add(op, name, [this.node, table.node]))
  }

  /**
   * Drops repeats: a record whose id (default: its key) was already seen at most `within`
   * earlier in event time is not passed on — producer retries and replays of an upstream
   * system become idempotent. Ids are kept per task until the watermark has passed
   * `within` after them, so duplicates must land in the same partition: they do when the id
   * is derived from the record key, as a retried send's is.
   * @example payments.dedupe({ name: 'once', id: (p) => p.paymentId, within: '1h' })
   */
  dedupe(options: { name: string; within: Duration; id?: (value: T) => string | number }): Stream<T> {
    const op: LogicalNode = {
      kind: 'dedupe',
      id: options.id as ((value: unknown) => string | number) | undefined,
      within: parseDuration(options.within, 'within'),
    }
    return new Stream<T>(this.pipeline, this.add(op, options.name))
  }

  /**
   * Finds a pattern in each key's events (see `pattern()`), in event-time order: events wait
   * for the watermark, so results do not depend on arrival order. Emits one `Match` per
   * match, with the events of each named stage. After a match, partial matches that began
   * at or before its last event are dropped (`skip: 'none'` keeps every overlapping match).
   * @example txns.keyBy((t) => t.card).match(declinedThenApproved, { name: 'declined-approved' })
   */
  match<N extends string>(
    p: Pattern<T, N>,
    options: { name: string; skip?: 'past-last-event' | 'none' },
  ): Stream<Match<T, N>> {
    const op: LogicalNode = { kind: 'match', pattern: p.validate(), skip: options.skip ?? 'past-last-event' }
    return new Stream<Match<T, N>>(this.pipeline, this.add(op, options.name))
  }

  /**
   * The stream as a table: the latest value per record key (a `null` or `undefined` value
   * deletes the key). Join streams with it, or other tables. Aggregations become tables this
   * way: `keyed().aggregate(…).map((a) => a.value).toTable({ name })`.
   */
  toTable(options: { name: string }): Table<NonNullable<T>> {
    return new Table<NonNullable<T>>(this.pipeline, this.add({ kind: 'to-table' }, options.name))
  }

  /** Writes the stream to a topic. */
  to(topic: SinkTopic<T>, options: NameOption = {}): void {
    this.add({ kind: 'sink', topic: topic as unknown as TopicDef<unknown> }, options.name)
  }

  /** A terminal side effect per record (at-least-once: it runs again after a crash). */
  forEach(fn: (value: T) => void, options: NameOption = {}): void {
    this.add({ kind: 'forEach', fn: fn as (v: unknown) => void }, options.name)
  }

  /**
   * Per-key state and timers, keyed by the record key.
   */
  process<U, S = unknown>(processor: Processor<T, U, S>): Stream<U> {
    const op = {
      kind: 'process' as const,
      processor: processor as unknown as Processor<unknown, unknown, unknown>,
    }
    return new Stream<U>(this.pipeline, this.add(op, processor.name))
  }

  /**
   * Calls an async function per record (a database or HTTP lookup) with bounded concurrency.
   * Output order equals input order, so results are deterministic and replay the same.
   */
  mapAsync<U>(fn: (value: T) => Promise<U>, options: NameOption & { concurrency?: number } = {}): Stream<U> {
    const op = {
      kind: 'mapAsync' as const,
      fn: fn as (v: unknown) => Promise<unknown>,
      concurrency: options.concurrency ?? 16,
    }
    return new Stream<U>(this.pipeline, this.add(op, options.name))
  }
}

/** A stream grouped by key: windows and aggregations happen per key. */
export class KeyedStream<T> extends Stream<T> {
  /** Filtering keeps the grouping: `keyBy(...).filter(...).window(...)` needs no re-keying. */
  override filter<S extends T>(fn: (value: T) => value is S, options?: NameOption): KeyedStream<S>
  override filter(fn: (value: T) => boolean, options?: NameOption): KeyedStream<T>
  override filter(fn: (value: T) => boolean, options: NameOption = {}): KeyedStream<T> {
    return new KeyedStream<T>(
      this.pipeline,
      this.add({ kind: 'filter', fn: fn as (v: unknown) => boolean }, options.name),
    )
  }

  override peek(fn: (value: T) => void, options: NameOption = {}): KeyedStream<T> {
    return new KeyedStream<T>(
      this.pipeline,
      this.add({ kind: 'peek', fn: fn as (v: unknown) => void }, options.name),
    )
  }

  window(spec: WindowSpec, options: WindowOptions<T> = {}): WindowedStream<T> {
    return new WindowedStream<T>(this, spec, options)
  }

  /** A running aggregate per key, emitted on every update. */
  aggregate<A, R = A>(aggregator: Aggregator<T, A, R>, options: { name: string }): Stream<Keyed<R>> {
    const op = {
      kind: 'aggregate' as const,
      aggregator: aggregator as unknown as Aggregator<unknown, unknown, unknown>,
    }
    return new Stream<Keyed<R>>(this.pipeline, this.add(op, options.name))
  }
}

export class WindowedStream<T> {
  readonly #stream: KeyedStream<T>
  readonly #spec: WindowSpec
  readonly #options: WindowOptions<T>

  constructor(stream: KeyedStream<T>, spec: WindowSpec, options: WindowOptions<T>) {
    this.#stream = stream
    this.#spec = spec
    this.#options = options
  }

  /**
   * Aggregates each key's records per window.
   * @example .aggregate(count(), { name: 'clicks-per-minute' })
   */
  aggregate<A, R = A>(aggregator: Aggregator<T, A, R>, options: { name: string }): Stream<Windowed<R>> {
    if (this.#spec.kind === 'session' && !aggregator.merge) {
      throw new TypeError(
        `aggregate "${options.name}": session windows merge, so the aggregator needs merge()`,
      )
    }
    const op: LogicalNode = {
      kind: 'window-aggregate',
      window: this.#spec,
      aggregator: aggregator as unknown as Aggregator<unknown, unknown, unknown>,
      allowedLateness: parseDuration(this.#options.allowedLateness ?? 0, 'allowedLateness'),
      late: this.#options.late as unknown as TopicDef<unknown> | undefined,
      emit: this.#options.emit ?? 'final',
    }
    const pipeline = this.#stream.pipeline
    return new Stream<Windowed<R>>(pipeline, pipeline.addNode(op, options.name, [this.#stream.node]))
  }
}

export type { Window }
