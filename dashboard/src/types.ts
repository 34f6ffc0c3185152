/**
 * The JSON the dashboard reads, as the server sends it (src/server/metrics-routes.ts,
 * api-routes.ts, runtime/metrics/snapshot.ts, topology/graph.ts). Written out here rather than
 * imported so the browser build does not pull in server code; the browser tests catch drift.
 */

export interface HistogramData {
  /** [bucket, count] pairs of the non-empty buckets. */
  buckets: Array<[number, number]>
  count: number
  sumMs: number
  maxMs: number
}

export interface InputMetrics {
  channel: string
  watermark: number | null
  maxEventTime: number | null
  idle: boolean
  quietMs: number
}

export interface PositionMetrics {
  topic: string
  partition: number
  position: number
  lag: number | null
  lastLogTime: number | null
}

export interface WindowMetrics {
  openWindows: number
  nextClose: number | null
  lateRecords: number
}

export interface TaskMetrics {
  id: string
  subtopology: number
  partition: number
  recordsIn: number
  recordsOut: number
  deadLetters: number
  busyMs: number
  /** Time spent waiting for mapAsync results (absent from older servers). */
  blockedMs?: number
  watermark: number | null
  inputs: InputMetrics[]
  positions: PositionMetrics[]
  windows: WindowMetrics[]
  asyncInFlight: number
  /** Late records dropped by patterns and stream–stream joins (absent from older servers). */
  lateDropped?: number
  /** Records into each step (absent from servers older than this page). */
  steps?: Array<{ step: string; kind: string; recordsIn: number }>
  /** Entries each state store holds in memory (absent from older servers). */
  stores?: Array<{ store: string; entries: number }>
  latency: HistogramData
  eventLatency: HistogramData
}

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export interface PipelineMetrics {
  pipeline: string
  state: 'running' | 'stopped' | 'failed'
  commits: number
  /** Time processing waited for commit slots, when the runner knows it. */
  blockedMs?: number
  tasks: TaskMetrics[]
  latency: LatencySummary
  eventLatency: LatencySummary
  /** Commit durations since start (absent before the first commit, and from older servers). */
  commitDuration?: LatencySummary
}

export interface ConnectorStatus {
  name: string
  kind: 'source' | 'sink'
  type: string
  topic: string
  state: 'starting' | 'running' | 'retrying' | 'done' | 'stopped'
  records: number
  deadLetters: number
  errors: number
  /** Absent from the JSON when there was none. */
  lastError?: string
}

export interface MetricsResponse {
  at: number
  pipelines: PipelineMetrics[]
  connectors: ConnectorStatus[]
  server: { subscriptionsOpen: number; subscriptionsDropped: number; ingestQueuedBytes: number }
}

export interface GraphNode {
  id: string
  name: string
  kind: string
  subtopology: number
  detail: string
  topic?: string
  internal?: boolean
  watermark?: { maxOutOfOrderMs: number; idleAfterMs: number; advanceWithProcessingTime: boolean }
  window?: number
  allowedLatenessMs?: number
  lateTopic?: string
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
  sourceTopics: string[]
  sinkTopics: string[]
  repartitionTopics: string[]
  stores: string[]
  deadLetterTopic: string
}

export interface TopicSummary {
  name: string
  partitions: number
  records: number
  bytes: number
  retentionMs: number | null
  retentionBytes: number | null
  compact: boolean
  maxRecordBytes: number
  partitionDetails: Array<{ partition: number; startOffset: number; endOffset: number; bytes: number }>
}

export interface DeadLetter {
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  valueBytes: number
  error: string
  stack: string
  operator: string
  pipeline: string
  origin: { topic: string; partition: number; offset: number } | null
}

export interface ReplayResult {
  replayed: string
  topic: string
  partition: number | null
  offset: number | null
  alreadyReplayed: boolean
}

/** A record of a live tail (the `record` event of GET /topics/:t/stream). */
export interface TailRecord {
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: unknown
  headers: Record<string, string>
}
