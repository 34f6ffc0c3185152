import type { GraphNode } from './nodes.ts'
import type { Pipeline } from './pipeline.ts'

/**
 * A table: the latest value per key, read from a (usually compacted) topic — each record an
 * upsert, a tombstone (null value) a delete. Tables are not streams: a stream joins them.
 * The task that joins a table holds the partition of it that matches its own partition, so the
 * table's topic and the joining stream must be co-partitioned (equal partition counts, keys
 * placed by the same partitioner); a stream re-keyed with keyBy is repartitioned to match.
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
}
