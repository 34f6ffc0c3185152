/**
 * A pipeline's topology, drawn top to bottom: each step in the row of its longest path from a
 * source, ordered under its parents; subtopologies boxed; live figures on each node.
 */
import { useMemo, useRef } from 'preact/hooks'
import { clock, count, rate } from '../format.ts'
import type { GraphNode, PipelineMetrics, TopologyGraph } from '../types.ts'

/** Wide enough for a step name and a window's detail of usual length (the title has the rest). */
const W = 272
const H = 82
const GAP_X = 26
const GAP_Y = 44
const PAD = 22
/** Room on the left for the subtopology labels, outside their boxes (edges enter boxes at the top). */
const LABEL = 130

interface Placed {
  node: GraphNode
  x: number
  y: number
}

interface Layout {
  placed: Map<string, Placed>
  width: number
  height: number
}

export function layout(graph: TopologyGraph): Layout {
  const parents = new Map<string, string[]>(graph.nodes.map((n) => [n.id, []]))
  const children = new Map<string, string[]>(graph.nodes.map((n) => [n.id, []]))
  for (const e of graph.edges) {
    parents.get(e.to)?.push(e.from)
    children.get(e.from)?.push(e.to)
  }
  // Longest path from a root (Kahn's order): every edge points down at least one row.
  const layer = new Map<string, number>()
  const indegree = new Map(graph.nodes.map((n) => [n.id, parents.get(n.id)!.length]))
  const queue = graph.nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id)
  for (const id of queue) layer.set(id, 0)
  while (queue.length > 0) {
    const id = queue.shift()!
    for (const c of children.get(id)!) {
      layer.set(c, Math.max(layer.get(c) ?? 0, layer.get(id)! + 1))
      indegree.set(c, indegree.get(c)! - 1)
      if (indegree.get(c) === 0) queue.push(c)
    }
  }
  const rows: string[][] = []
  for (const n of graph.nodes) {
    const l = layer.get(n.id) ?? 0
    const row = rows[l] ?? []
    row.push(n.id)
    rows[l] = row
  }
  // Each row in the order of its parents' places: fewer crossings.
  const order = new Map<string, number>()
  rows.forEach((row, l) => {
    if (l > 0) {
      const centre = (id: string) => {
        const ps = parents.get(id)!.filter((p) => order.has(p))
        return ps.length === 0
          ? Number.MAX_SAFE_INTEGER
          : ps.reduce((s, p) => s + order.get(p)!, 0) / ps.length
      }
      row.sort((a, b) => centre(a) - centre(b))
    }
    for (const [i, id] of row.entries()) order.set(id, i)
  })
  const widest = Math.max(1, ...rows.map((r) => r?.length ?? 0))
  const width = widest * W + (widest - 1) * GAP_X + 2 * PAD + LABEL
  const byId = new Map(graph.nodes.map((n) => [n.id, n]))
  const placed = new Map<string, Placed>()
  rows.forEach((row, l) => {
    const rowWidth = row.length * W + (row.length - 1) * GAP_X
    const left = LABEL + (width - LABEL - rowWidth) / 2
    row.forEach((id, i) => {
      placed.set(id, { node: byId.get(id)!, x: left + i * (W + GAP_X), y: PAD + l * (H + GAP_Y) })
    })
  })
  const height = PAD * 2 + rows.length * (H + GAP_Y) - GAP_Y
  return { placed, width, height }
}

/** Figures per node, from the tasks' metrics and (for sinks) the topics' record counts. */
function figures(
  node: GraphNode,
  metrics: PipelineMetrics | undefined,
  topicRecords: Record<string, number>,
  rates: Record<string, number | null>,
): Array<{ label: string; value: string; name: string }> {
  const tasks = (metrics?.tasks ?? []).filter((t) => t.subtopology === node.subtopology)
  if ((node.kind === 'source' || node.kind === 'table') && node.topic) {
    const positions = tasks.flatMap((t) => t.positions.filter((p) => p.topic === node.topic))
    const read = positions.reduce((n, p) => n + p.position, 0)
    const lag = positions.reduce((n, p) => n + (p.lag ?? 0), 0)
    const channels = tasks.flatMap((t) => t.inputs.filter((i) => i.channel.startsWith(`${node.topic}/`)))
    const wms = channels.map((c) => c.watermark).filter((w): w is number => w !== null)
    const out = [
      { label: 'read', value: count(read), name: 'read' },
      { label: 'lag', value: count(lag), name: 'lag' },
    ]
    if (!node.internal)
      out.unshift({ label: '/s', value: rate(rates[`read:${node.topic}`] ?? null), name: 'rate' })
    if (wms.length > 0) out.push({ label: 'watermark', value: clock(Math.min(...wms)), name: 'watermark' })
    return out
  }
  if (node.kind === 'window-aggregate' && node.window !== undefined) {
    const ws = tasks.map((t) => t.windows[node.window!]).filter((w) => w !== undefined)
    const closes = ws.map((w) => w.nextClose).filter((c): c is number => c !== null)
    return [
      { label: 'open', value: count(ws.reduce((n, w) => n + w.openWindows, 0)), name: 'open' },
      { label: 'late', value: count(ws.reduce((n, w) => n + w.lateRecords, 0)), name: 'late' },
      {
        label: 'next close',
        value: closes.length > 0 ? clock(Math.min(...closes)) : '–',
        name: 'next-close',
      },
    ]
  }
  // Every other step: the records into it, from the tasks' per-step counts.
  const steps = tasks.flatMap((t) => t.steps ?? []).filter((st) => st.step === node.name)
  if (node.kind !== 'sink' && steps.length > 0) {
    return [
      { label: 'in', value: count(steps.reduce((n, st) => n + st.recordsIn, 0)), name: 'step-in' },
      { label: '/s', value: rate(rates[`step:${node.name}`] ?? null), name: 'rate' },
    ]
  }
  if (node.kind === 'sink' && node.topic) {
    const records = topicRecords[node.topic]
    return [
      { label: 'in topic', value: count(records), name: 'records' },
      { label: '/s', value: rate(rates[`topic:${node.topic}`] ?? null), name: 'rate' },
    ]
  }
  return []
}

/** Rates of counters between renders with new figures (keyed by name). */
function useRates(values: Record<string, number>, at: number): Record<string, number | null> {
  const last = useRef<{
    at: number
    values: Record<string, number>
    rates: Record<string, number | null>
  } | null>(null)
  const prev = last.current
  if (prev && prev.at === at) return prev.rates
  const rates: Record<string, number | null> = {}
  for (const [k, v] of Object.entries(values)) {
    const before = prev?.values[k]
    rates[k] =
      prev && before !== undefined && at > prev.at
        ? Math.max(0, ((v - before) * 1000) / (at - prev.at))
        : null
  }
  last.current = { at, values, rates }
  return rates
}

export function Topology(props: {
  graph: TopologyGraph
  metrics: PipelineMetrics | undefined
  at: number
  topicRecords: Record<string, number>
  highlight: ReadonlySet<string>
}) {
  const { graph, metrics } = props
  const { placed, width, height } = useMemo(() => layout(graph), [graph])
  const counters: Record<string, number> = {}
  for (const t of metrics?.tasks ?? []) {
    for (const p of t.positions) counters[`read:${p.topic}`] = (counters[`read:${p.topic}`] ?? 0) + p.position
  }
  for (const t of metrics?.tasks ?? []) {
    for (const st of t.steps ?? [])
      counters[`step:${st.step}`] = (counters[`step:${st.step}`] ?? 0) + st.recordsIn
  }
  for (const [topic, n] of Object.entries(props.topicRecords)) counters[`topic:${topic}`] = n
  const rates = useRates(counters, props.at)

  const boxes = graph.subtopologies.map((s) => {
    const mine = [...placed.values()].filter((p) => p.node.subtopology === s.id)
    if (mine.length === 0) return null
    const x0 = Math.min(...mine.map((p) => p.x)) - 10
    const y0 = Math.min(...mine.map((p) => p.y)) - 10
    const x1 = Math.max(...mine.map((p) => p.x + W)) + 10
    const y1 = Math.max(...mine.map((p) => p.y + H)) + 10
    const tasks = metrics?.tasks.filter((t) => t.subtopology === s.id).length ?? 0
    return (
      <g key={`sub-${s.id}`}>
        <rect class="subtopology" x={x0} y={y0} width={x1 - x0} height={y1 - y0} rx={10} />
        <text class="subtopology-label" x={x0 - 8} y={y0 + 14} text-anchor="end">
          subtopology {s.id}
        </text>
        <text class="subtopology-label" x={x0 - 8} y={y0 + 28} text-anchor="end">
          {tasks} task{tasks === 1 ? '' : 's'}
        </text>
      </g>
    )
  })

  return (
    <div class="topology" style={{ height: `${height}px` }}>
      <div class="topology-canvas" style={{ width: `${width}px`, height: `${height}px` }}>
        <svg width={width} height={height} aria-hidden="true">
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0 0 L10 5 L0 10 z" fill="#94a3b8" />
            </marker>
          </defs>
          {boxes}
          {graph.edges.map((e, i) => {
            const a = placed.get(e.from)
            const b = placed.get(e.to)
            if (!a || !b) return null
            const x1 = a.x + W / 2
            const y1 = a.y + H
            const x2 = b.x + W / 2
            const y2 = b.y - 2
            const dy = Math.max(20, (y2 - y1) / 2)
            return (
              <g key={`e-${i}`}>
                <path
                  class={`edge${e.label ? ` edge-${e.label}` : ''}`}
                  d={`M${x1} ${y1} C${x1} ${y1 + dy} ${x2} ${y2 - dy} ${x2} ${y2}`}
                  marker-end="url(#arrow)"
                />
                {e.label ? (
                  <text class="edge-label" x={(x1 + x2) / 2 + 6} y={(y1 + y2) / 2 + 4}>
                    {e.label}
                  </text>
                ) : null}
              </g>
            )
          })}
        </svg>
        {[...placed.values()].map(({ node, x, y }) => {
          const figs = figures(node, metrics, props.topicRecords, rates)
          return (
            <div
              key={node.id}
              class={`node node-${node.kind}${node.internal ? ' node-internal' : ''}${props.highlight.has(node.id) ? ' node-holding' : ''}`}
              style={{ left: `${x}px`, top: `${y}px`, width: `${W}px`, height: `${H}px` }}
              data-node={node.name}
              title={`${node.kind} ${node.name}: ${node.detail}`}
            >
              <div class="node-head">
                <span class="node-kind">{kindLabel(node)}</span>
                <span class="node-name">{node.name}</span>
              </div>
              <div class="node-detail">{nodeDetail(node)}</div>
              {figs.length > 0 ? (
                <div class="node-figures">
                  {figs.map((f) => (
                    <span key={f.name} data-figure={f.name}>
                      <b>{f.value}</b> {f.label}
                    </span>
                  ))}
                </div>
              ) : null}
            </div>
          )
        })}
      </div>
    </div>
  )
}

function kindLabel(node: GraphNode): string {
  if (node.kind === 'source') return node.internal ? 'repartition' : 'source'
  if (node.kind === 'window-aggregate') return 'window'
  if (node.kind === 'repartition') return 'keyBy'
  if (node.kind === 'stream-table-join' || node.kind === 'stream-join' || node.kind === 'table-join')
    return 'join'
  return node.kind
}

function nodeDetail(node: GraphNode): string {
  if (node.kind === 'source' && !node.internal) return `topic ${node.topic}`
  if (node.kind === 'source' && node.internal) return `topic ${node.topic}`
  if (node.kind === 'window-aggregate' && node.lateTopic) return `${node.detail}; late → ${node.lateTopic}`
  if (node.detail === node.kind) return ''
  return node.detail
}
