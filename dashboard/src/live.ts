/**
 * The dashboard's one source of figures: polls `/api/metrics` every second and keeps a rolling
 * history (rates and per-second latency percentiles are differences between two polls, so they
 * exist only here, in the browser). Also the session: whether a token is needed, and whether
 * the server answers — when it does not, the poll goes on, and the banner says so.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { type ApiError, api, onUnauthorized, session, storeToken } from './api.ts'
import { type Buckets, difference, merged, percentile, sum } from './histogram.ts'
import type { MetricsResponse, PipelineMetrics, TopologyGraph } from './types.ts'

const POLL_MS = 1_000
const DOWN_POLL_MS = 2_000
/** Five minutes of one-second samples. */
const HISTORY = 300

export interface Percentiles {
  p50: number | null
  p90: number | null
  p99: number | null
  p999: number | null
}

export interface PipelineSample {
  /** Records read from the pipeline's source topics per second. */
  inRate: number | null
  /** Records written by its tasks (sinks and repartitions) per second. */
  outRate: number | null
  lag: number
  late: number
  deadLetters: number
  /** Over the last interval; null when nothing was recorded in it. */
  latency: Percentiles
  eventLatency: Percentiles
  latencyBuckets: Buckets
  eventBuckets: Buckets
  /** Share of the last interval each task spent processing, by task id. */
  busy: Record<string, number>
  /** Share of the last interval each task waited for mapAsync results, by task id. */
  asyncBlocked: Record<string, number>
  /** Share of the last interval processing waited for commits (null: the runner does not say). */
  commitBlocked: number | null
  commitRate: number | null
}

export interface Sample {
  at: number
  pipelines: Record<string, PipelineSample>
}

export interface LiveState {
  /** `token`: the server wants a token we do not have (or ours is refused). */
  phase: 'starting' | 'token' | 'running'
  tokenRefused: boolean
  connection: 'ok' | 'down'
  downSince: number | null
  /** When the server last came back; `restarted`: with its counters started again. */
  recovered: { at: number; restarted: boolean } | null
  metrics: MetricsResponse | null
  graphs: TopologyGraph[]
  history: Sample[]
  /** A refusal other than a missing token (403), or another failure worth showing. */
  problem: string | null
}

let state: LiveState = {
  phase: 'starting',
  tokenRefused: false,
  connection: 'ok',
  downSince: null,
  recovered: null,
  metrics: null,
  graphs: [],
  history: [],
  problem: null,
}
const listeners = new Set<() => void>()

function set(patch: Partial<LiveState>): void {
  state = { ...state, ...patch }
  for (const l of listeners) l()
}

export function useLive(): LiveState {
  const [, rerender] = useState(0)
  useEffect(() => {
    const l = () => rerender((n) => n + 1)
    listeners.add(l)
    return () => {
      listeners.delete(l)
    }
  }, [])
  return state
}

export function liveState(): LiveState {
  return state
}

let timer: ReturnType<typeof setTimeout> | undefined
let graphsLoaded = false
/** The previous poll's counters, to difference against. */
let previous: { at: number; pipelines: Map<string, Counters> } | null = null

interface Counters {
  sourcePositions: number
  recordsOut: number
  commits: number
  commitBlockedMs: number | undefined
  busyMs: Map<string, number>
  asyncBlockedMs: Map<string, number>
  latency: Buckets
  eventLatency: Buckets
}

/** Starts (or resumes after a token was entered): checks the session, then polls. */
export async function start(): Promise<void> {
  clearTimeout(timer)
  let s: Awaited<ReturnType<typeof session>>
  try {
    s = await session()
  } catch {
    set({ connection: 'down', downSince: state.downSince ?? Date.now() })
    timer = setTimeout(() => void start(), DOWN_POLL_MS)
    return
  }
  if (s.auth && s.token !== 'valid') {
    set({ phase: 'token', tokenRefused: s.token === 'invalid', connection: 'ok', downSince: null })
    return
  }
  set({ phase: 'running', tokenRefused: false })
  await poll()
}

export async function submitToken(token: string): Promise<void> {
  storeToken(token.trim() === '' ? null : token.trim())
  await start()
}

onUnauthorized(() => {
  if (state.phase === 'running') {
    clearTimeout(timer)
    void start()
  }
})

async function poll(): Promise<void> {
  clearTimeout(timer)
  try {
    const metrics = await api<MetricsResponse>('/api/metrics')
    const wasDown = state.connection === 'down'
    if (!graphsLoaded || wasDown) {
      const { pipelines } = await api<{ pipelines: TopologyGraph[] }>('/api/pipelines')
      graphsLoaded = true
      set({ graphs: pipelines })
    }
    const restarted = previous !== null && counterWentBack(metrics.pipelines)
    if (restarted) previous = null
    const sample = record(metrics)
    set({
      metrics,
      history: [...state.history.slice(-(HISTORY - 1)), sample],
      connection: 'ok',
      downSince: null,
      problem: null,
      ...(wasDown || restarted ? { recovered: { at: Date.now(), restarted } } : {}),
    })
  } catch (error) {
    const e = error as ApiError
    if (e.status === 401) return // onUnauthorized has taken over
    if (e.status === 0) {
      set({ connection: 'down', downSince: state.downSince ?? Date.now() })
      timer = setTimeout(() => void poll(), DOWN_POLL_MS)
      return
    }
    set({ problem: e.message })
  }
  timer = setTimeout(() => void poll(), POLL_MS)
}

function counterWentBack(pipelines: readonly PipelineMetrics[]): boolean {
  for (const p of pipelines) {
    const before = previous!.pipelines.get(p.pipeline)
    if (before && p.commits < before.commits) return true
  }
  return false
}

function sourceTopicsOf(pipeline: string): ((topic: string) => boolean) | undefined {
  const g = state.graphs.find((x) => x.pipeline === pipeline)
  if (!g) return undefined
  const topics = new Set(g.sourceTopics)
  return (topic) => topics.has(topic)
}

function record(metrics: MetricsResponse): Sample {
  const pipelines: Record<string, PipelineSample> = {}
  const counters = new Map<string, Counters>()
  for (const p of metrics.pipelines) {
    const isSource = sourceTopicsOf(p.pipeline) ?? ((t: string) => !t.endsWith('-repartition'))
    const now: Counters = {
      sourcePositions: 0,
      recordsOut: 0,
      commits: p.commits,
      commitBlockedMs: p.blockedMs,
      busyMs: new Map(),
      asyncBlockedMs: new Map(),
      latency: merged(p.tasks, 'latency'),
      eventLatency: merged(p.tasks, 'eventLatency'),
    }
    let lag = 0
    let late = 0
    let deadLetters = 0
    for (const t of p.tasks) {
      for (const x of t.positions) {
        if (isSource(x.topic)) now.sourcePositions += x.position
        lag += x.lag ?? 0
      }
      now.recordsOut += t.recordsOut
      now.busyMs.set(t.id, t.busyMs)
      now.asyncBlockedMs.set(t.id, t.blockedMs ?? 0)
      for (const w of t.windows) late += w.lateRecords
      late += t.lateDropped ?? 0
      deadLetters += t.deadLetters
    }
    counters.set(p.pipeline, now)
    const before = previous?.pipelines.get(p.pipeline)
    const seconds = previous ? (metrics.at - previous.at) / 1000 : 0
    const per = (a: number, b: number | undefined) =>
      before && seconds > 0 && b !== undefined ? Math.max(0, a - b) / seconds : null
    const latencyBuckets = difference(now.latency, before?.latency) ?? new Map()
    const eventBuckets = difference(now.eventLatency, before?.eventLatency) ?? new Map()
    // The share of the interval a time counter grew by, per task.
    const shares = (nowMs: Map<string, number>, beforeMs: Map<string, number> | undefined) => {
      const out: Record<string, number> = {}
      if (!beforeMs || seconds <= 0) return out
      for (const [id, ms] of nowMs) {
        const was = beforeMs.get(id)
        if (was !== undefined) out[id] = Math.min(1, Math.max(0, (ms - was) / (seconds * 1000)))
      }
      return out
    }
    const busy = shares(now.busyMs, before?.busyMs)
    const asyncBlocked = shares(now.asyncBlockedMs, before?.asyncBlockedMs)
    const commitBlocked =
      now.commitBlockedMs === undefined || before?.commitBlockedMs === undefined || seconds <= 0
        ? null
        : Math.min(1, Math.max(0, (now.commitBlockedMs - before.commitBlockedMs) / (seconds * 1000)))
    pipelines[p.pipeline] = {
      inRate: per(now.sourcePositions, before?.sourcePositions),
      outRate: per(now.recordsOut, before?.recordsOut),
      lag,
      late,
      deadLetters,
      latency: percentiles(latencyBuckets),
      eventLatency: percentiles(eventBuckets),
      latencyBuckets,
      eventBuckets,
      busy,
      asyncBlocked,
      commitBlocked,
      commitRate: per(now.commits, before?.commits),
    }
  }
  previous = { at: metrics.at, pipelines: counters }
  return { at: metrics.at, pipelines }
}

function percentiles(b: Buckets): Percentiles {
  return {
    p50: percentile(b, 0.5),
    p90: percentile(b, 0.9),
    p99: percentile(b, 0.99),
    p999: percentile(b, 0.999),
  }
}

/** A percentile of a pipeline's log-time latency over the last `seconds` samples; null when none. */
export function recentPercentile(
  history: readonly Sample[],
  pipeline: string,
  q: number,
  seconds = 10,
): number | null {
  const list: Buckets[] = []
  for (const s of history.slice(-seconds)) {
    const b = s.pipelines[pipeline]?.latencyBuckets
    if (b) list.push(b)
  }
  return percentile(sum(list), q)
}

/** Gives a page its own polling of some other endpoint while it is shown. */
export function usePoll<T>(
  path: string | null,
  everyMs: number,
): { data: T | null; error: string | null; refresh: () => void } {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [nonce, setNonce] = useState(0)
  const shown = useRef(path)
  useEffect(() => {
    // A refresh keeps what is on screen until the new answer; another path starts empty.
    if (shown.current !== path) {
      shown.current = path
      setData(null)
      setError(null)
    }
    if (path === null) return
    let stopped = false
    let t: ReturnType<typeof setTimeout> | undefined
    const run = async () => {
      try {
        const value = await api<T>(path)
        if (stopped) return
        setData(value)
        setError(null)
      } catch (e) {
        if (stopped) return
        // Unreachable is the banner's to say; refusals and missing things are the page's.
        if ((e as ApiError).status !== 0) setError((e as Error).message)
      }
      if (!stopped) t = setTimeout(run, everyMs)
    }
    void run()
    return () => {
      stopped = true
      clearTimeout(t)
    }
  }, [path, everyMs, nonce])
  return { data, error, refresh: () => setNonce((n) => n + 1) }
}
