/**
 * "Why no output?": from a pipeline's figures, sentences that say what holds its results back —
 * a window waiting for event time and the input that keeps event time from moving, inputs not
 * read to their end, late records, dead letters, and backpressure: a task busy all the time,
 * waiting for mapAsync results, or processing waiting for commits. Pure: figures in, findings out.
 */
import { duration, time } from './format.ts'
import type { GraphNode, PipelineMetrics, TaskMetrics, TopologyGraph } from './types.ts'

export interface Finding {
  /** `wait`: results are held back by design (event time); `warn`: something to act on. */
  level: 'ok' | 'wait' | 'warn' | 'error'
  text: string
  /** The graph nodes it is about (the step waiting, the input holding it), to highlight. */
  nodes: string[]
}

/** A quiet input is worth naming once it has been quiet this long. */
const QUIET_MS = 2_000
/** Busier than this share of the time: the task is the bottleneck. */
const BUSY = 0.9
/** Waiting this share of the time or more (for mapAsync results, for commits) holds input back. */
const BLOCKED = 0.25
/** Sentences per kind of wait before they are summed up. */
const MAX_PER_KIND = 4

export function explain(
  graph: TopologyGraph | undefined,
  p: PipelineMetrics,
  busy: Record<string, number>,
  /** Shares of the last second spent waiting: per task for mapAsync results, and for commits. */
  blocked: { async?: Record<string, number>; commit?: number | null } = {},
): Finding[] {
  const out: Finding[] = []
  if (p.state === 'failed') {
    out.push({
      nodes: [],
      level: 'error',
      text: 'The pipeline has failed and processes nothing: the sluice run output says why. Fix it and restart; it resumes from its last commit.',
    })
  } else if (p.state === 'stopped') {
    out.push({
      level: 'error',
      nodes: [],
      text: 'The pipeline is stopped: nothing is processed until it runs again.',
    })
  }
  if (p.tasks.length === 0) {
    out.push({
      level: 'wait',
      nodes: [],
      text: 'No tasks run here yet (on Kafka, this worker may own none of them).',
    })
    return out
  }
  const recordsIn = p.tasks.reduce((n, t) => n + t.recordsIn, 0)
  const sources = graph?.sourceTopics ?? []
  if (recordsIn === 0) {
    out.push({
      nodes: [],
      level: 'wait',
      text:
        sources.length > 0
          ? `No records have arrived yet on ${list(sources)}: there is nothing to process.`
          : 'No records have arrived yet: there is nothing to process.',
    })
  }

  lagFindings(graph, p, out)
  busyFindings(p, busy, out)
  blockedFindings(p, blocked, out)
  windowFindings(graph, p, out)
  lateFindings(graph, p, out)

  const dead = p.tasks.reduce((n, t) => n + t.deadLetters, 0)
  if (dead > 0) {
    out.push({
      nodes: [],
      level: 'warn',
      text: `${dead} record${dead === 1 ? '' : 's'} failed in a step and went to the dead-letter topic ${
        graph?.deadLetterTopic ?? ''
      } instead of on: the dead-letter browser (Topics) shows each error, and can replay them.`,
    })
  }
  if (out.length === 0 || out.every((f) => f.level === 'ok')) {
    out.push({
      nodes: [],
      level: 'ok',
      text: hasWindows(graph)
        ? 'Nothing holds results back: inputs are read to their end and no window is waiting for event time.'
        : 'Nothing holds results back: inputs are read to their end and records flow straight through.',
    })
  }
  return out
}

function lagFindings(graph: TopologyGraph | undefined, p: PipelineMetrics, out: Finding[]): void {
  const lagging = new Map<string, { lag: number; oldest: number | null }>()
  for (const t of p.tasks) {
    for (const x of t.positions) {
      if (!x.lag) continue
      const e = lagging.get(x.topic) ?? { lag: 0, oldest: null }
      e.lag += x.lag
      if (x.lastLogTime !== null) e.oldest = Math.min(e.oldest ?? x.lastLogTime, x.lastLogTime)
      lagging.set(x.topic, e)
    }
  }
  for (const [topic, { lag, oldest }] of lagging) {
    const behind =
      oldest === null ? '' : ` (the last one processed was written ${duration(Date.now() - oldest)} ago)`
    const node = nodeOfTopic(graph, topic)
    out.push({
      level: 'warn',
      nodes: node ? [node.id] : [],
      text: `Input ${topic} has ${lag} record${lag === 1 ? '' : 's'} not processed yet${behind}: the pipeline is catching up, and results of those records come after.`,
    })
  }
}

function busyFindings(p: PipelineMetrics, busy: Record<string, number>, out: Finding[]): void {
  for (const t of p.tasks) {
    const share = busy[t.id]
    if (share !== undefined && share >= BUSY) {
      out.push({
        nodes: [],
        level: 'warn',
        text: `Task ${taskName(t)} was busy ${Math.round(share * 100)}% of the last second: it is the bottleneck (backpressure). More partitions, and threads to run them, spread the load.`,
      })
    }
    if (t.asyncInFlight > 0) {
      out.push({
        nodes: [],
        level: 'wait',
        text: `Task ${taskName(t)} waits for ${t.asyncInFlight} mapAsync call${t.asyncInFlight === 1 ? '' : 's'}: records after them wait, to keep their order.`,
      })
    }
  }
}

function blockedFindings(
  p: PipelineMetrics,
  blocked: { async?: Record<string, number>; commit?: number | null },
  out: Finding[],
): void {
  for (const t of p.tasks) {
    const share = blocked.async?.[t.id]
    if (share !== undefined && share >= BLOCKED) {
      out.push({
        nodes: [],
        level: 'warn',
        text: `Task ${taskName(t)} waited ${Math.round(share * 100)}% of the last second for mapAsync results: the service it calls is slow and holds its input back (backpressure). A higher mapAsync concurrency, or a faster service, lets it through.`,
      })
    }
  }
  const commit = blocked.commit
  if (commit !== undefined && commit !== null && commit >= BLOCKED) {
    out.push({
      nodes: [],
      level: 'warn',
      text: `Processing waited ${Math.round(commit * 100)}% of the last second for commits: the log is not keeping up (backpressure; with --durability sync every commit waits for its fsync). A faster disk, or --durability interval, lets it through.`,
    })
  }
}

function windowFindings(graph: TopologyGraph | undefined, p: PipelineMetrics, out: Finding[]): void {
  const waits: Finding[] = []
  for (const t of p.tasks) {
    t.windows.forEach((w, i) => {
      if (w.openWindows === 0 || w.nextClose === null) return
      const node = graph?.nodes.find((n) => n.subtopology === t.subtopology && n.window === i)
      const name = node ? `Window ${node.name}` : `Window ${i + 1}`
      const watermark = t.watermark
      if (watermark !== null && watermark >= w.nextClose) return // closes on the next tick
      const head = `${name} on task ${taskName(t)} waits for event time ${time(w.nextClose)} to close its next window (${w.openWindows} open)`
      const why = cause(graph, p, t, w.nextClose, 0)
      waits.push({
        level: 'wait',
        text: `${head}; ${why.text}`,
        nodes: [...(node ? [node.id] : []), ...why.nodes],
      })
    })
  }
  out.push(...summarise(waits))
}

/**
 * Which input keeps a task's watermark from reaching `target`, in a sentence. An input from a
 * repartition topic is followed to the upstream task that writes it, where the cause is.
 */
function cause(
  graph: TopologyGraph | undefined,
  p: PipelineMetrics,
  t: TaskMetrics,
  target: number,
  depth: number,
): { text: string; nodes: string[] } {
  const active = t.inputs.filter((x) => !x.idle)
  if (active.length === 0) {
    const at = t.watermark === null ? 'has not started' : `stands at ${time(t.watermark)}`
    const clock = graph?.nodes.some((n) => n.watermark?.advanceWithProcessingTime)
    return {
      text: `every input is idle, so event time ${at} until records arrive${
        clock
          ? ''
          : ` (watermark: { advance: 'processing-time' } on the source closes windows on the clock instead)`
      }.`,
      nodes: [],
    }
  }
  // The slowest input that is not idle is the task's watermark.
  const holding = active.reduce((a, b) => ((a.watermark ?? -Infinity) <= (b.watermark ?? -Infinity) ? a : b))
  const source = nodeOfChannel(graph, holding.channel)
  const nodes = source ? [source.id] : []
  const idleAfter = source?.watermark?.idleAfterMs
  const upstream = upstreamTask(graph, p, holding.channel)
  if (upstream && depth < 3) {
    const further = cause(graph, p, upstream, target, depth + 1)
    const at = holding.watermark === null ? 'has had nothing yet' : `is at ${time(holding.watermark)}`
    return {
      text: `input ${holding.channel} ${at}, from upstream task ${taskName(upstream)}, where ${further.text}`,
      nodes: [...nodes, ...further.nodes],
    }
  }
  if (holding.watermark === null) {
    return {
      text: `input ${holding.channel} has had no records yet and is not idle${
        idleAfter ? ` (it will be after ${duration(idleAfter)} without records)` : ''
      }, so event time has not started.`,
      nodes,
    }
  }
  const at = `input ${holding.channel} is at ${time(holding.watermark)}`
  if (holding.quietMs >= QUIET_MS && idleAfter !== undefined && idleAfter > 0) {
    return {
      text: `${at} and has been quiet ${duration(holding.quietMs)} — it is not idle yet (idleAfter ${duration(idleAfter)}), so it holds the watermark back.`,
      nodes,
    }
  }
  return { text: `${at}; results come when event time on it passes ${time(target)}.`, nodes }
}

/** `x-repartition/0#2`: partition 0 of a repartition topic, as written by upstream task 2. */
function upstreamTask(
  graph: TopologyGraph | undefined,
  p: PipelineMetrics,
  channel: string,
): TaskMetrics | undefined {
  const m = /^(.*)\/\d+#(\d+)$/.exec(channel)
  if (!m || !graph) return undefined
  const reader = graph.nodes.find((n) => n.internal && n.topic === m[1])
  const edge = reader && graph.edges.find((e) => e.to === reader.id && e.label === 'repartition')
  const writer = edge && graph.nodes.find((n) => n.id === edge.from)
  if (!writer) return undefined
  return p.tasks.find((t) => t.subtopology === writer.subtopology && t.partition === Number(m[2]))
}

function lateFindings(graph: TopologyGraph | undefined, p: PipelineMetrics, out: Finding[]): void {
  const byWindow = new Map<string, { late: number; node: GraphNode | undefined }>()
  for (const t of p.tasks) {
    t.windows.forEach((w, i) => {
      if (w.lateRecords === 0) return
      const node = graph?.nodes.find((n) => n.subtopology === t.subtopology && n.window === i)
      const key = node?.id ?? `window ${i + 1}`
      const e = byWindow.get(key) ?? { late: 0, node }
      e.late += w.lateRecords
      byWindow.set(key, e)
    })
  }
  for (const [key, { late, node }] of byWindow) {
    const lateness = node?.allowedLatenessMs
    const where = node?.lateTopic ? `went to ${node.lateTopic}` : 'were counted and dropped'
    out.push({
      level: 'warn',
      nodes: node ? [node.id] : [],
      text: `${late} record${late === 1 ? '' : 's'} reached ${node ? `window ${node.name}` : key} after their window had closed${
        lateness === undefined ? '' : ` (allowed lateness ${lateness === 0 ? '0' : duration(lateness)})`
      } and ${where}: they are not in its results. A larger maxOutOfOrder or allowedLateness keeps windows open longer.`,
    })
  }
}

function summarise(findings: Finding[]): Finding[] {
  if (findings.length <= MAX_PER_KIND) return findings
  const rest = findings.length - MAX_PER_KIND
  return [
    ...findings.slice(0, MAX_PER_KIND),
    {
      level: 'wait',
      nodes: [],
      text: `…and ${rest} more window${rest === 1 ? '' : 's'} waiting the same way (see the table).`,
    },
  ]
}

function hasWindows(graph: TopologyGraph | undefined): boolean {
  return graph?.nodes.some((n) => n.kind === 'window-aggregate') ?? false
}

export function taskName(t: TaskMetrics): string {
  return `${t.subtopology}/${t.partition}`
}

function nodeOfTopic(graph: TopologyGraph | undefined, topic: string): GraphNode | undefined {
  return graph?.nodes.find((n) => (n.kind === 'source' || n.kind === 'table') && n.topic === topic)
}

/** `readings/1` or `app-x-repartition/0#2` → the source node reading that topic. */
export function nodeOfChannel(graph: TopologyGraph | undefined, channel: string): GraphNode | undefined {
  const topic = channel.replace(/#\d+$/, '').replace(/\/\d+$/, '')
  return nodeOfTopic(graph, topic)
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
