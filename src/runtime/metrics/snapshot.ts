/**
 * The figures a runner reports per pipeline and task: what `/metrics`, `sluice status` and
 * the dashboard show. Plain data (it crosses worker threads and goes out as JSON).
 */
import type { Task } from '../task.ts'
import type { HistogramData } from './histogram.ts'
import { Histogram } from './histogram.ts'

/** One input channel of a task: a source partition, or one upstream task of a repartition topic. */
export interface InputMetrics {
  /** `topic/partition`, or `topic/partition#upstream` for a repartition topic. */
  channel: string
  /** Event time this input has reached (null before any). */
  watermark: number | null
  /** Newest event time seen on it (source inputs; null before any). */
  maxEventTime: number | null
  idle: boolean
  /** Ms since a record or marker last arrived on it. */
  quietMs: number
}

export interface PositionMetrics {
  topic: string
  partition: number
  /** The next offset this task reads. */
  position: number
  /** Records appended and not processed yet (null when the runner does not know the end). */
  lag: number | null
  /** Log timestamp of the last record processed from it (null before any): with lag > 0, how far behind in time. */
  lastLogTime: number | null
}

export interface WindowMetrics {
  openWindows: number
  /** Event time at which the next window closes (null: none open). */
  nextClose: number | null
  lateRecords: number
}

export interface TaskMetricsSnapshot {
  id: string
  subtopology: number
  partition: number
  recordsIn: number
  recordsOut: number
  deadLetters: number
  busyMs: number
  /** Time it waited for mapAsync results (backpressure from a slow service). */
  blockedMs: number
  /** The task's watermark: the minimum over its inputs that are not idle (null before any). */
  watermark: number | null
  inputs: InputMetrics[]
  positions: PositionMetrics[]
  windows: WindowMetrics[]
  asyncInFlight: number
  /** Late records dropped by steps without a late output (patterns, stream–stream joins). */
  lateDropped: number
  /** Records into each step of the task (its subtopology's nodes; empty when metrics are off). */
  steps: Array<{ step: string; kind: string; recordsIn: number }>
  /** Entries each state store holds in memory (its working set; the size figure for state). */
  stores: Array<{ store: string; entries: number }>
  latency: HistogramData
  eventLatency: HistogramData
}

export interface PipelineMetrics {
  pipeline: string
  state: 'running' | 'stopped' | 'failed'
  commits: number
  /** Commit durations (ms): queueing the transaction to its acknowledgement (fsync included). */
  commitLatency?: HistogramData
  /** Time processing waited for commit slots (the log not keeping up), when the runner knows it. */
  blockedMs?: number
  tasks: TaskMetricsSnapshot[]
}

const finite = (n: number) => (Number.isFinite(n) ? n : null)

/** A task's figures now; `endOf` gives an input partition's end offset when the runner knows it. */
export function taskSnapshot(
  task: Task,
  now: number,
  endOf?: (topic: string, partition: number) => number,
): TaskMetricsSnapshot {
  const positions: PositionMetrics[] = []
  for (const [topic, position] of task.positions) {
    const end = endOf?.(topic, task.partition)
    positions.push({
      topic,
      partition: task.partition,
      position,
      lag: end === undefined ? null : Math.max(0, end - position),
      lastLogTime: finite(task.lastLogTime(topic)),
    })
  }
  return {
    id: task.id,
    subtopology: task.subtopology.id,
    partition: task.partition,
    recordsIn: task.recordsIn,
    recordsOut: task.recordsOut,
    deadLetters: task.deadLetters,
    busyMs: task.metrics.busyMs,
    blockedMs: task.metrics.blockedMs,
    watermark: finite(task.watermark),
    inputs: task.tracker.channels.map((c) => ({
      channel: c.name,
      watermark: finite(c.watermark),
      maxEventTime: finite(c.maxTimestamp),
      idle: c.idle,
      quietMs: Math.max(0, now - c.lastActivity),
    })),
    positions,
    windows: task.windows.map((w) => ({
      openWindows: w.openWindows,
      nextClose: w.nextClose ?? null,
      lateRecords: w.lateRecords,
    })),
    asyncInFlight: task.asyncInFlight,
    lateDropped: task.lateDropped,
    steps: task.steps.map((s) => ({ step: s.step, kind: s.kind, recordsIn: s.n })),
    stores: [...task.stores.values()].map((s) => ({ store: s.name, entries: s.cachedEntries })),
    latency: task.metrics.latency.data(),
    eventLatency: task.metrics.eventLatency.data(),
  }
}

/** The tasks' latency histograms merged: a pipeline's distribution. */
export function mergedLatency(
  tasks: readonly TaskMetricsSnapshot[],
  which: 'latency' | 'eventLatency',
): Histogram {
  const h = new Histogram()
  for (const t of tasks) h.add(t[which])
  return h
}
