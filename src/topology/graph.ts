/**
 * A compiled topology as a plain graph, for pictures (the dashboard, `GET /api/pipelines`):
 * one node per step under its stable name, edges in the direction records flow, and the
 * topics at its edges. Plain data: it goes out as JSON.
 *
 * What the picture leaves out of the physical topology: the side nodes a join is entered
 * through become edges labelled `left`/`right`; a table read by a join through its store
 * becomes a `lookup` edge; a keyBy's repartition topic becomes a `repartition` edge into the
 * subtopology that reads it.
 */
import { parseDuration } from '../util/duration.ts'
import type { PhysicalNode, Topology } from './compile.ts'

export interface GraphNode {
  /** The step's stable name: unique within its pipeline. */
  id: string
  name: string
  /** The operation (`source`, `map`, `window-aggregate`, `sink`, `repartition`, …). */
  kind: string
  /** -1 for global tables, which belong to no task. */
  subtopology: number
  /** One line saying what the step does: a window's shape, the topic a sink writes. */
  detail: string
  /** The topic a source reads or a sink, keyBy or late output writes. */
  topic?: string
  /** Sources: a repartition topic (written by an upstream subtopology), not a user topic. */
  internal?: boolean
  /** Sources: how event time is tracked on each of its partitions, as a task applies it. */
  watermark?: { maxOutOfOrderMs: number; idleAfterMs: number; advanceWithProcessingTime: boolean }
  /** Windowed aggregates: its index in each task's `windows` metrics. */
  window?: number
  allowedLatenessMs?: number
  /** Windowed aggregates: where late records go (none: counted and dropped). */
  lateTopic?: string
  /** Stateful steps: the state store, `<pipeline>.<step>`. */
  store?: string
}

export interface GraphEdge {
  from: string
  to: string
  label?: 'left' | 'right' | 'lookup' | 'repartition'
}

export interface TopologyGraph {
  pipeline: string
  subtopologies: Array<{ id: number; sources: string[] }>
  nodes: GraphNode[]
  edges: GraphEdge[]
  /** User topics read: streams, tables and global tables. */
  sourceTopics: string[]
  /** Topics written: sinks and late outputs. */
  sinkTopics: string[]
  repartitionTopics: string[]
  stores: string[]
  deadLetterTopic: string
}

export function topologyGraph(topology: Topology): TopologyGraph {
  const nodes: GraphNode[] = []
  const edges: GraphEdge[] = []
  const ids = new Map<PhysicalNode, string>()
  const taken = new Set<string>()
  const pipeline = topology.pipeline

  const add = (node: PhysicalNode, subtopology: number, extra: Partial<GraphNode> = {}): string => {
    const known = ids.get(node)
    if (known !== undefined) return known
    let id = node.name
    // Names are unique per pipeline; this only guards the picture against a future exception.
    while (taken.has(id)) id += "'"
    taken.add(id)
    ids.set(node, id)
    nodes.push({ id, name: node.name, kind: node.op.kind, subtopology, detail: detail(node), ...extra })
    return id
  }

  const visit = (node: PhysicalNode, subtopology: number, seen: Set<PhysicalNode>): void => {
    if (seen.has(node)) return
    seen.add(node)
    const from = add(node, subtopology, stepFields(node, pipeline))
    for (const child of node.children) {
      if (child.op.kind === 'join-side') {
        const label = child.op.side === 0 ? 'left' : 'right'
        for (const join of child.children) {
          edges.push({ from, to: add(join, subtopology, stepFields(join, pipeline)), label })
          visit(join, subtopology, seen)
        }
        continue
      }
      edges.push({ from, to: add(child, subtopology, stepFields(child, pipeline)) })
      visit(child, subtopology, seen)
    }
  }

  for (const sub of topology.subtopologies) {
    const seen = new Set<PhysicalNode>()
    for (const source of sub.sources) {
      const internal = source.upstream !== null
      const wm = source.watermark
      add(source.root, sub.id, {
        kind: source.table ? 'table' : 'source',
        topic: source.topic,
        internal,
        detail: internal ? 'repartition topic' : source.table ? `table of ${source.topic}` : source.topic,
        // The same defaults a task applies (runtime/task.ts): internal inputs never go idle.
        watermark: {
          maxOutOfOrderMs: parseDuration(wm.maxOutOfOrder ?? 0, 'maxOutOfOrder'),
          idleAfterMs: internal
            ? 0
            : parseDuration(wm.idleAfter ?? (source.table ? '1s' : '30s'), 'idleAfter'),
          advanceWithProcessingTime: wm.advance === 'processing-time',
        },
        ...(source.table ? { store: `${pipeline}.${source.root.name}` } : {}),
      })
      visit(source.root, sub.id, seen)
    }
    for (const [name, index] of windowOrder(sub.sources.map((s) => s.root))) {
      const node = nodes.find((n) => n.name === name && n.subtopology === sub.id)
      if (node) node.window = index
    }
  }

  for (const g of topology.globalTables) {
    const name = g.store.slice(pipeline.length + 1)
    let id = name
    while (taken.has(id)) id += "'"
    taken.add(id)
    nodes.push({
      id,
      name,
      kind: 'global-table',
      subtopology: -1,
      detail: `global table of ${g.def.name}`,
      topic: g.def.name,
      store: g.store,
    })
  }

  // Tables feed the stream joins that read them through their store, not as records.
  const byStore = new Map(nodes.filter((n) => n.store !== undefined).map((n) => [n.store!, n.id]))
  for (const [node, id] of ids) {
    if (node.op.kind === 'stream-table-join') {
      const table = byStore.get(node.op.tableStore)
      if (table !== undefined) edges.push({ from: table, to: id, label: 'lookup' })
    }
    if (node.op.kind === 'repartition') {
      const topic = node.op.topic
      const reader = nodes.find((n) => n.internal && n.topic === topic)
      if (reader) edges.push({ from: id, to: reader.id, label: 'repartition' })
    }
  }

  const sinkTopics = [...new Set(topology.sinkTopics.map((t) => t.name))]
  const sourceTopics = [
    ...new Set([
      ...topology.subtopologies.flatMap((s) =>
        s.sources.filter((x) => x.upstream === null).map((x) => x.topic),
      ),
      ...topology.globalTables.map((g) => g.def.name),
    ]),
  ]
  return {
    pipeline,
    subtopologies: topology.subtopologies.map((s) => ({ id: s.id, sources: s.sources.map((x) => x.topic) })),
    nodes,
    edges,
    sourceTopics,
    sinkTopics,
    repartitionTopics: topology.repartitionTopics.map((r) => r.topic),
    stores: topology.stores,
    deadLetterTopic: topology.deadLetterTopic,
  }
}

/**
 * The windowed aggregates of one subtopology in the order its tasks list them in `windows`
 * (and so in their metrics): runtime/chain.ts builds each source's chain children first and
 * registers a window when its step is built, each node once. This walk keeps that order.
 */
export function windowOrder(roots: readonly PhysicalNode[]): Map<string, number> {
  const order = new Map<string, number>()
  const built = new Set<PhysicalNode>()
  const build = (node: PhysicalNode): void => {
    if (built.has(node)) return
    built.add(node)
    for (const child of node.children) build(child)
    if (node.op.kind === 'window-aggregate') order.set(node.name, order.size)
  }
  for (const root of roots) build(root)
  return order
}

function stepFields(node: PhysicalNode, pipeline: string): Partial<GraphNode> {
  const op = node.op
  switch (op.kind) {
    case 'sink':
      return { topic: op.topic.name }
    case 'repartition':
      return { topic: op.topic }
    case 'window-aggregate':
      return {
        allowedLatenessMs: op.allowedLateness,
        ...(op.late ? { lateTopic: op.late.name } : {}),
        store: `${pipeline}.${node.name}`,
      }
    case 'aggregate':
    case 'process':
    case 'to-table':
    case 'table-join':
    case 'stream-join':
    case 'dedupe':
    case 'match':
      return { store: `${pipeline}.${node.name}` }
    default:
      return {}
  }
}

function detail(node: PhysicalNode): string {
  const op = node.op
  switch (op.kind) {
    case 'repartition':
      return `keyBy → ${op.topic}`
    case 'sink':
      return `to ${op.topic.name}`
    case 'window-aggregate': {
      const w = op.window
      const shape =
        w.kind === 'tumbling'
          ? `tumbling ${ms(w.size)}`
          : w.kind === 'hopping'
            ? `hopping ${ms(w.size)} every ${ms(w.advance)}`
            : `session, gap ${ms(w.gap)}`
      return `${shape}, lateness ${ms(op.allowedLateness)}, emit ${op.emit}`
    }
    case 'stream-join':
      return `${op.type} join, ${ms(op.before)} before, ${ms(op.after)} after`
    case 'stream-table-join':
      return `${op.type} join with ${op.tableStore} (${op.version})`
    case 'table-join':
      return `${op.type} join of ${op.stores.join(' and ')}`
    case 'mapAsync':
      return `concurrency ${op.concurrency}`
    case 'dedupe':
      return `within ${ms(op.within)}`
    default:
      return op.kind
  }
}

/** A duration for people: `1.5 s`, `250 ms`, `10 min`. */
function ms(n: number): string {
  if (n === 0) return '0'
  if (n % 3_600_000 === 0) return `${n / 3_600_000} h`
  if (n % 60_000 === 0) return `${n / 60_000} min`
  if (n >= 1000) return `${n / 1000} s`
  return `${n} ms`
}
