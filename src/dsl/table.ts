import { type ForeignKeyJoinOptions, foreignKeyJoin } from './fk-join.ts'
import type { GraphNode, LogicalNode } from './nodes.ts'
import type { Pipeline } from './pipeline.ts'
import { Stream } from './stream.ts'

/**
 * A table: the latest value per key — read from a (usually compacted) topic, where each
 * record upserts its key and a tombstone (null value) deletes it; made from a stream with
 * `toTable()`; or joined from two tables. Tables are not streams: streams join them, and
 * `toStream()` turns one back into its stream of updates.
 *
 * The task that joins a table holds the partition of it that matches its own partition, so
 * the table and what joins it must be co-partitioned (equal partition counts, keys placed by
 * the same partitioner); a stream re-keyed with keyBy is repartitioned to match.
 *
 * Each task keeps a table's recent versions per key (by event time), so that a stream record
 * joins the value the table had at that record's event time (see Stream.join).
 * @example
 * const customers = p.table(customersTopic)
 * orders.keyBy((o) => o.customerId).join(customers, (order, customer) => ({ ...order, customer }))
 */
export class Table<V> {
  readonly pipeline: Pipeline
  readonly node: GraphNode
  /** Phantom field carrying the value type. */
  declare readonly __type?: V

  constructor(pipeline: Pipeline, node: GraphNode) {
    this.pipeline = pipeline
    this.node = node
  }

  /** The table's step name; its state store is `<pipeline>.<name>`. */
  get name(): string {
    return this.node.name!
  }

  /** The table's updates as a stream: one record per upsert, `null` for a delete. */
  toStream(): Stream<V | null> {
    return new Stream<V | null>(this.pipeline, this.node)
  }

  /**
   * Joins another table on the key: the result table has, for each key, `joiner(left,
   * right)` — for keys in both tables (inner), in this one (left) or in either (outer, the
   * missing side undefined). Every update of either side updates the key's result; a key
   * that loses its result is deleted. Uses each table's latest value (updates of the two
   * sides are not ordered by event time).
   */
  join<W, U>(other: Table<W>, joiner: (left: V, right: W) => U, options: { name: string }): Table<U> {
    return this.#join(other, joiner as (l: V | undefined, r: W | undefined) => U, 'inner', options.name)
  }

  /** Like `join`, keeping keys only this table has (`right` undefined). */
  leftJoin<W, U>(
    other: Table<W>,
    joiner: (left: V, right: W | undefined) => U,
    options: { name: string },
  ): Table<U> {
    return this.#join(other, joiner as (l: V | undefined, r: W | undefined) => U, 'left', options.name)
  }

  /** Like `join`, keeping keys either table has (the missing side undefined). */
  outerJoin<W, U>(
    other: Table<W>,
    joiner: (left: V | undefined, right: W | undefined) => U,
    options: { name: string },
  ): Table<U> {
    return this.#join(other, joiner, 'outer', options.name)
  }

  /**
   * Joins another table by a foreign key: each row of this table meets the row of `other`
   * whose key is `foreignKey(row)` — orders with their customer by `order.customerId`, the two
   * tables partitioned by their own keys. The result is a table by this table's key, updated
   * when either side changes: a row has a result while its foreign key has a row in `other`.
   * @example
   * const enriched = orders.joinOn(customers, (o) => o.customerId, (o, c) => ({ ...o, tier: c.tier }), { name: 'orders-with-tier' })
   */
  joinOn<W, U>(
    other: Table<W>,
    foreignKey: (row: V) => string | number,
    joiner: (left: V, right: W) => U,
    options: ForeignKeyJoinOptions,
  ): Table<NonNullable<U>> {
    return foreignKeyJoin(this, other, foreignKey, joiner as (l: V, r: W | null) => U, 'inner', options)
  }

  /** Like `joinOn`, keeping rows whose foreign key has no row in `other` (`right` null). */
  leftJoinOn<W, U>(
    other: Table<W>,
    foreignKey: (row: V) => string | number,
    joiner: (left: V, right: W | null) => U,
    options: ForeignKeyJoinOptions,
  ): Table<NonNullable<U>> {
    return foreignKeyJoin(this, other, foreignKey, joiner, 'left', options)
  }

  #join<W, U>(
    other: Table<W>,
    joiner: (left: V | undefined, right: W | undefined) => U,
    type: 'inner' | 'left' | 'outer',
    name: string,
  ): Table<U> {
    if (other.pipeline !== this.pipeline) {
      throw new TypeError(`pipeline "${this.pipeline.name}": cannot join a table of another pipeline`)
    }
    const op: LogicalNode = {
      kind: 'table-join',
      joiner: joiner as (left: unknown, right: unknown) => unknown,
      type,
    }
    return new Table<U>(this.pipeline, this.pipeline.addNode(op, name, [this.node, other.node]))
  }
}
