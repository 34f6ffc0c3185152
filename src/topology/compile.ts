/**
 * The compile step: DSL graph → physical topology.
 *
 * - Every `keyBy` cuts the graph: upstream it becomes a sink into an internal repartition
 *   topic, downstream a source reading it. The connected pieces between cuts are the
 *   subtopologies; each runs as one task per input partition.
 * - Within a subtopology, operators are fused: each node becomes a function that calls its
 *   children directly (runtime/chain.ts). No queue between fused operators.
 * - Every node gets a stable name: the user's, the topic's for sources, the next stateful
 *   step's for an unnamed keyBy, and `<kind>-<n>` for unnamed stateless steps (these hold no
 *   state, so their names may shift without harm).
 */
import { type GraphNode, isStateful, type LogicalNode, type WatermarkOptions } from '../dsl/nodes.ts'
import type { Pipeline } from '../dsl/pipeline.ts'
import type { TopicDef } from '../dsl/topic.ts'
import { parseDuration } from '../util/duration.ts'

export interface PhysicalNode {
  readonly name: string
  readonly op:
    | Exclude<LogicalNode, { kind: 'stream-table-join' | 'table-join' }>
    | RepartitionOp
    | StreamTableJoinOp
    | TableJoinOp
    | JoinSideOp
  readonly children: PhysicalNode[]
}

/**
 * Where one input of a stream–stream join enters it: records of side 0 (left) or 1 (right)
 * go to the join's operator, shared by both sides; its results flow on from the join node.
 */
export interface JoinSideOp {
  kind: 'join-side'
  side: 0 | 1
}

/** A table–table join as a task runs it: the joined tables are found by their stores. */
export interface TableJoinOp {
  kind: 'table-join'
  joiner: (left: unknown, right: unknown) => unknown
  type: 'inner' | 'left' | 'outer'
  /** `<pipeline>.<table>` of the left and the right table. */
  stores: [string, string]
}

/** A stream–table join as a task runs it: the table is found by its store. */
export interface StreamTableJoinOp {
  kind: 'stream-table-join'
  /** The joined table's state store, `<pipeline>.<table>`. */
  tableStore: string
  /** The table's source topics: their event time says which table versions are final. */
  tableTopics: string[]
  joiner: (value: unknown, row: unknown) => unknown
  type: 'inner' | 'left'
  version: 'event-time' | 'latest'
  /** A global table: looked up in the process's global tables, by `lookup` or the record key. */
  global: boolean
  lookup: ((value: unknown) => string | number) | undefined
}

/** Upstream half of a keyBy: compute the new key and write to the repartition topic. */
export interface RepartitionOp {
  kind: 'repartition'
  fn: (value: unknown) => string | number
  topic: string
}

export interface SourceSpec {
  readonly topic: string
  /** The user's topic definition (schema, key, timestamp); null for repartition topics. */
  readonly def: TopicDef<unknown> | null
  readonly watermark: WatermarkOptions
  /** For repartition sources: the subtopology that writes the topic (its tasks send watermarks). */
  readonly upstream: number | null
  /** A table's topic: tombstones delete, and its records feed the table's store. */
  readonly table: boolean
  readonly root: PhysicalNode
}

export interface Subtopology {
  readonly id: number
  readonly sources: SourceSpec[]
}

export interface Topology {
  readonly pipeline: string
  readonly subtopologies: Subtopology[]
  /** Repartition topics, with the subtopology whose partition count they copy. */
  readonly repartitionTopics: Array<{ topic: string; from: number }>
  /** State store names, `<pipeline>.<step>`. */
  readonly stores: string[]
  readonly sinkTopics: TopicDef<unknown>[]
  readonly deadLetterTopic: string
  /** mapAsync calls that reject are retried this often, after `backoffMs` doubling each time. */
  readonly retries: { count: number; backoffMs: number }
  /** Global tables: every task reads all of them (store name = `<pipeline>.<name>`). */
  readonly globalTables: Array<{ store: string; def: TopicDef<unknown> }>
}

export function compile(pipeline: Pipeline): Topology {
  const nodes = pipeline.nodes
  if (!nodes.some((n) => n.op.kind === 'source' || n.op.kind === 'table')) {
    throw new TypeError(
      `pipeline "${pipeline.name}" reads nothing: start it with .from(topic) or .table(topic)`,
    )
  }
  const children = new Map<GraphNode, GraphNode[]>(nodes.map((n) => [n, []]))
  for (const n of nodes) for (const p of n.parents) children.get(p)!.push(n)
  const names = assignNames(pipeline, nodes, children)

  // Global tables belong to no task: every task reads them whole (runtime/global-tables.ts).
  for (const g of nodes.filter((n) => n.op.kind === 'global-table')) {
    const other = children.get(g)!.find((c) => c.op.kind !== 'stream-table-join')
    if (other) {
      throw new TypeError(
        `pipeline "${pipeline.name}": global table "${names.get(g)}" can only be joined by streams ` +
          `(${other.op.kind} reads it); use p.table() for a table to transform or join with tables`,
      )
    }
  }
  const grouped = nodes.filter((n) => n.op.kind !== 'global-table')

  // Subtopologies: union nodes joined by an edge, except the edge out of a keyBy.
  const group = new Map<GraphNode, number>()
  const find = (n: GraphNode): GraphNode => {
    let root = n
    while (parentOf.get(root) !== root) root = parentOf.get(root)!
    return root
  }
  const parentOf = new Map<GraphNode, GraphNode>(nodes.map((n) => [n, n]))
  for (const n of grouped) {
    for (const p of n.parents) {
      if (p.op.kind === 'keyBy' || p.op.kind === 'global-table') continue
      parentOf.set(find(n), find(p))
    }
  }
  const roots = [...new Set(grouped.map(find))]
  roots.sort((a, b) => a.id - b.id)
  for (const n of grouped) group.set(n, roots.indexOf(find(n)))
  // A keyBy whose downstream landed in its own subtopology: a merge or join brought a stream
  // from before the keyBy together with one after it. That task would read the repartition
  // topic it writes, its watermark waiting on itself: windows would never close.
  for (const n of grouped) {
    if (n.op.kind !== 'keyBy') continue
    if (!(children.get(n) ?? []).some((c) => group.get(c) === group.get(n))) continue
    throw new TypeError(
      `pipeline "${pipeline.name}": the stream after keyBy "${names.get(n)}" is merged or joined with a stream ` +
        'from before that keyBy, so one task would read the repartition topic it writes itself. ' +
        'keyBy the other stream too, or send each to the same topic with .to() instead of merging.',
    )
  }

  const physical = new Map<GraphNode, PhysicalNode>()
  const repartitionTopic = (keyBy: GraphNode) => `${pipeline.name}-${names.get(keyBy)}-repartition`
  const build = (n: GraphNode): PhysicalNode => {
    let built = physical.get(n)
    if (built) return built
    const op: PhysicalNode['op'] =
      n.op.kind === 'keyBy'
        ? { kind: 'repartition', fn: n.op.fn, topic: repartitionTopic(n) }
        : n.op.kind === 'stream-table-join'
          ? {
              kind: 'stream-table-join',
              tableStore: `${pipeline.name}.${names.get(n.op.table)}`,
              tableTopics: inputTopics(n.op.table, repartitionTopic),
              joiner: n.op.joiner,
              type: n.op.type,
              version: n.op.version,
              global: n.op.table.op.kind === 'global-table',
              lookup: n.op.lookup,
            }
          : n.op.kind === 'table-join'
            ? {
                kind: 'table-join',
                joiner: n.op.joiner,
                type: n.op.type,
                stores: [
                  `${pipeline.name}.${names.get(n.parents[0]!)}`,
                  `${pipeline.name}.${names.get(n.parents[1]!)}`,
                ],
              }
            : n.op
    built = { name: names.get(n)!, op, children: [] }
    physical.set(n, built)
    if (n.op.kind === 'keyBy') return built
    attachChildren(built, n)
    return built
  }
  /** Builds n's children under `into` (n's own node, or the source of n's repartition topic). */
  const attachChildren = (into: PhysicalNode, n: GraphNode): void => {
    for (const c of children.get(n)!) {
      // A table does not flow into the stream joins that read it: they read its store.
      if (c.op.kind === 'stream-table-join' && c.op.table === n) continue
      if (c.op.kind === 'stream-join' || c.op.kind === 'table-join') {
        // Each input of a stream–stream join enters through its own side node (a stream
        // joined with itself has both).
        c.parents.forEach((parent, side) => {
          if (parent !== n) return
          into.children.push({
            name: `${names.get(c)}.${side === 0 ? 'left' : 'right'}`,
            op: { kind: 'join-side', side: side as 0 | 1 },
            children: [build(c)],
          })
        })
        continue
      }
      into.children.push(build(c))
    }
  }

  const subtopologies: Subtopology[] = roots.map((_, id) => ({ id, sources: [] }))
  for (const n of nodes) {
    if (n.op.kind === 'source' || n.op.kind === 'table') {
      subtopologies[group.get(n)!]!.sources.push({
        topic: n.op.topic.name,
        def: n.op.topic,
        watermark: n.op.watermark,
        upstream: null,
        table: n.op.kind === 'table',
        root: build(n),
      })
    }
    if (n.op.kind === 'keyBy') {
      const downstream = children.get(n)!
      if (downstream.length === 0) continue
      const topic = repartitionTopic(n)
      // Through attachChildren: a join right after keyBy needs its side nodes here too.
      const root: PhysicalNode = { name: topic, op: { kind: 'merge' }, children: [] }
      attachChildren(root, n)
      const watermark = firstSourceWatermark(n)
      subtopologies[group.get(downstream[0]!)!]!.sources.push({
        topic,
        def: null,
        watermark,
        upstream: group.get(n)!,
        table: false,
        root,
      })
    }
  }
  for (const n of nodes) {
    // Streams that all went through keyBy meet in the task their repartition topics feed; a
    // stream keyed by keyBy and one keyed as it was read do not.
    if (n.op.kind === 'merge' && new Set(n.parents.map((p) => p.op.kind === 'keyBy')).size > 1) {
      throw new TypeError(
        `pipeline "${pipeline.name}": merge joins streams that are keyed differently (one went through keyBy). ` +
          'Merge them before keyBy, or keyBy each of them first.',
      )
    }
  }
  const repartitionTopics = nodes
    .filter((n) => n.op.kind === 'keyBy' && children.get(n)!.length > 0)
    .map((n) => ({ topic: repartitionTopic(n), from: group.get(n)! }))
  const stores = nodes.filter((n) => isStateful(n.op)).map((n) => `${pipeline.name}.${names.get(n)}`)
  const sinkTopics: TopicDef<unknown>[] = []
  for (const n of nodes) {
    if (n.op.kind === 'sink') sinkTopics.push(n.op.topic)
    if (n.op.kind === 'window-aggregate' && n.op.late) sinkTopics.push(n.op.late)
  }
  return {
    pipeline: pipeline.name,
    subtopologies,
    repartitionTopics,
    stores,
    sinkTopics,
    deadLetterTopic: pipeline.options.deadLetter,
    retries: {
      count: pipeline.options.errors.retries,
      backoffMs: parseDuration(pipeline.options.errors.backoff, 'errors.backoff'),
    },
    globalTables: nodes.flatMap((n) =>
      n.op.kind === 'global-table' ? [{ store: `${pipeline.name}.${names.get(n)}`, def: n.op.topic }] : [],
    ),
  }
}

/**
 * The input topics a node's records come from within its task: its sources, or the
 * repartition topics of the keyBys above it. A stream–table join watches their watermark to
 * know which versions of a table are final.
 */
function inputTopics(n: GraphNode, repartitionTopic: (keyBy: GraphNode) => string): string[] {
  const topics = new Set<string>()
  const seen = new Set<GraphNode>()
  const walk = (node: GraphNode) => {
    if (seen.has(node)) return
    seen.add(node)
    if (node.op.kind === 'source' || node.op.kind === 'table') {
      topics.add(node.op.topic.name)
      return
    }
    for (const p of node.parents) {
      if (p.op.kind === 'keyBy') topics.add(repartitionTopic(p))
      else walk(p)
    }
  }
  walk(n)
  return [...topics]
}

function firstSourceWatermark(n: GraphNode): WatermarkOptions {
  let cur: GraphNode | undefined = n
  while (cur && cur.op.kind !== 'source') cur = cur.parents[0]
  return cur?.op.kind === 'source' ? cur.op.watermark : {}
}

function assignNames(
  pipeline: Pipeline,
  nodes: readonly GraphNode[],
  children: Map<GraphNode, GraphNode[]>,
): Map<GraphNode, string> {
  const names = new Map<GraphNode, string>()
  const used = new Set<string>()
  const claim = (n: GraphNode, name: string) => {
    if (used.has(name) && n.op.kind !== 'source') {
      throw new TypeError(
        `pipeline "${pipeline.name}": two steps are named "${name}"; step names must be unique`,
      )
    }
    used.add(name)
    names.set(n, name)
  }
  for (const n of nodes) {
    if (n.op.kind === 'source') claim(n, n.op.topic.name)
    else if (n.name !== undefined) claim(n, n.name)
    else if (isStateful(n.op)) {
      throw new TypeError(
        `pipeline "${pipeline.name}": a ${n.op.kind} step needs a name, e.g. { name: 'spend' }`,
      )
    }
  }
  for (const n of nodes) {
    if (names.has(n) || n.op.kind !== 'keyBy') continue
    const named = firstStatefulBelow(n, children)
    if (!named) {
      throw new TypeError(
        `pipeline "${pipeline.name}": keyBy needs { name } here — no stateful step follows it to name its repartition topic`,
      )
    }
    claim(n, `${names.get(named)}-by`)
  }
  const counters = new Map<string, number>()
  for (const n of nodes) {
    if (names.has(n)) continue
    const k = counters.get(n.op.kind) ?? 0
    counters.set(n.op.kind, k + 1)
    let name = `${n.op.kind}-${k}`
    while (used.has(name)) name += "'"
    claim(n, name)
  }
  return names
}

function firstStatefulBelow(n: GraphNode, children: Map<GraphNode, GraphNode[]>): GraphNode | undefined {
  const queue = [...children.get(n)!]
  while (queue.length > 0) {
    const c = queue.shift()!
    if (isStateful(c.op)) return c
    if (c.op.kind !== 'keyBy') queue.push(...children.get(c)!)
  }
  return undefined
}
