import type { PhysicalNode, Topology } from './compile.ts'

/** A readable picture of a topology: subtopologies, fused steps, internal topics, stores. */
export function describe(topology: Topology): string {
  const lines = [`pipeline ${topology.pipeline}`]
  for (const sub of topology.subtopologies) {
    lines.push(
      `  subtopology ${sub.id} (one task per partition of ${sub.sources.map((s) => s.topic).join(', ')})`,
    )
    for (const source of sub.sources) {
      if (source.table) {
        lines.push(`    table ${source.topic} → store ${topology.pipeline}.${source.root.name}`)
        continue
      }
      lines.push(`    source ${source.topic}${source.upstream === null ? '' : ' (internal)'}`)
      for (const child of source.root.children) walk(child, 3, lines)
    }
  }
  if (topology.stores.length > 0) lines.push(`  state stores: ${topology.stores.join(', ')}`)
  lines.push(`  dead letters: ${topology.deadLetterTopic}`)
  return lines.join('\n')
}

function walk(node: PhysicalNode, depth: number, lines: string[], seen = new Set<PhysicalNode>()): void {
  const pad = '  '.repeat(depth)
  lines.push(`${pad}→ ${label(node)}`)
  if (seen.has(node)) return
  seen.add(node)
  for (const child of node.children) walk(child, depth + 1, lines, seen)
}

function label(node: PhysicalNode): string {
  const op = node.op
  switch (op.kind) {
    case 'repartition':
      return `keyBy ${node.name} ⇒ ${op.topic}`
    case 'sink':
      return `to ${op.topic.name}`
    case 'window-aggregate': {
      const w = op.window
      const shape =
        w.kind === 'tumbling'
          ? `tumbling ${w.size}ms`
          : w.kind === 'hopping'
            ? `hopping ${w.size}ms every ${w.advance}ms`
            : `session gap ${w.gap}ms`
      return `window-aggregate ${node.name} [${shape}, lateness ${op.allowedLateness}ms, emit ${op.emit}]`
    }
    case 'join-side':
      return `${node.name} ⇒`
    case 'stream-join': {
      const bounds =
        op.before === op.after ? `within ${op.after}ms` : `${op.before}ms before, ${op.after}ms after`
      const kind = op.type === 'inner' ? 'join' : `${op.type} join`
      return `${kind} ${node.name} [${bounds}, lateness ${op.allowedLateness}ms]`
    }
    case 'stream-table-join':
      return `${op.type === 'left' ? 'left join' : 'join'} ${node.name} with ${op.tableStore} [${op.version}]`
    default:
      return node.name.startsWith(`${op.kind}-`) ? op.kind : `${op.kind} ${node.name}`
  }
}
