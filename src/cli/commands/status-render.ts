/**
 * The tables `sluice status` prints: the figures of `GET /api/metrics` — the same ones
 * `/metrics` and the dashboard show — per pipeline, latency kind, task and input partition,
 * and per connector. Pure: two samples in (the second for rates, or null), text out.
 */
import type { ConnectorStatus } from '../../connectors/status.ts'
import type { PipelineMetrics, TaskMetricsSnapshot } from '../../runtime/metrics/snapshot.ts'
import type { LatencySummary } from '../../server/metrics-routes.ts'
import { formatCount } from '../output.ts'

export interface ApiMetrics {
  at: number
  pipelines: Array<
    PipelineMetrics & {
      latency: LatencySummary
      eventLatency: LatencySummary
      commitDuration?: LatencySummary
    }
  >
  connectors: ConnectorStatus[]
}

/** `a` then `b` (`interval` ms later, or null with --interval 0): rates come from their difference. */
export function renderStatus(a: ApiMetrics, b: ApiMetrics | null): string {
  const now = b ?? a
  const seconds = b ? (b.at - a.at) / 1000 : 0
  const before = (name: string) => (b ? a.pipelines.find((x) => x.pipeline === name) : undefined)
  const per = (n: number, was: number | undefined) =>
    was === undefined || seconds <= 0 ? '-' : rateText(Math.max(0, n - was) / seconds)

  const pipelines: string[][] = [
    [
      'pipeline',
      'state',
      'tasks',
      'in',
      'out',
      'in/s',
      'out/s',
      'lag',
      'lag s',
      'watermark',
      'open windows',
      'late',
      'dead letters',
    ],
  ]
  const latency: string[][] = [
    ['pipeline', 'latency', 'measured', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
  ]
  const commits: string[][] = [['pipeline', 'commits', 'commits/s', 'p50 ms', 'p99 ms', 'blocked s']]
  const tasks: string[][] = [
    [
      'task',
      'in',
      'out',
      'in/s',
      'µs/record',
      'lag',
      'watermark',
      'open windows',
      'next close',
      'late',
      'dead letters',
      'state entries',
      'async in flight',
      'async blocked s',
    ],
  ]
  const inputs: string[][] = [['task', 'input', 'watermark', 'newest event', 'idle', 'quiet s']]

  for (const p of now.pipelines) {
    const was = before(p.pipeline)
    const lags = p.tasks.flatMap((t) => t.positions.map((x) => x.lag))
    const wms = p.tasks.map((t) => t.watermark).filter((w): w is number => w !== null)
    pipelines.push([
      p.pipeline,
      p.state,
      String(p.tasks.length),
      formatCount(total(p, (t) => t.recordsIn)),
      formatCount(total(p, (t) => t.recordsOut)),
      per(sourceRead(p), was && sourceRead(was)),
      per(
        total(p, (t) => t.recordsOut),
        was && total(was, (t) => t.recordsOut),
      ),
      lags.some((l) => l === null) ? '?' : formatCount(lags.reduce<number>((n, l) => n + (l ?? 0), 0)),
      secondsText(Math.max(0, ...p.tasks.flatMap((t) => t.positions.map((x) => lagSeconds(x, now.at))))),
      wms.length === 0 ? 'none yet' : time(Math.min(...wms), now.at),
      formatCount(total(p, (t) => sum(t.windows, (w) => w.openWindows))),
      formatCount(total(p, late)),
      formatCount(total(p, (t) => t.deadLetters)),
    ])
    for (const [kind, s] of [
      ['append time', p.latency],
      ['event time', p.eventLatency],
    ] as const) {
      latency.push([p.pipeline, kind, formatCount(s.count), ...percentiles(s)])
    }
    const c = p.commitDuration
    commits.push([
      p.pipeline,
      formatCount(p.commits),
      per(p.commits, was?.commits),
      c && c.count > 0 ? msText(c.p50) : '-',
      c && c.count > 0 ? msText(c.p99) : '-',
      p.blockedMs === undefined ? '-' : secondsText(p.blockedMs / 1000),
    ])
    for (const t of p.tasks) {
      const tw = was?.tasks.find((x) => x.id === t.id)
      // Processing time per record over the interval when records came in it, else since start.
      const dIn = tw ? t.recordsIn - tw.recordsIn : 0
      const usPerRecord =
        tw && dIn > 0
          ? ((t.busyMs - tw.busyMs) * 1000) / dIn
          : t.recordsIn > 0
            ? (t.busyMs * 1000) / t.recordsIn
            : Number.NaN
      const nextClose = Math.min(...t.windows.map((w) => w.nextClose ?? Number.POSITIVE_INFINITY))
      tasks.push([
        t.id,
        formatCount(t.recordsIn),
        formatCount(t.recordsOut),
        per(t.recordsIn, tw?.recordsIn),
        Number.isNaN(usPerRecord) ? '-' : usPerRecord.toFixed(1),
        t.positions.some((x) => x.lag === null) ? '?' : formatCount(sum(t.positions, (x) => x.lag ?? 0)),
        t.watermark === null ? 'none yet' : time(t.watermark, now.at),
        formatCount(sum(t.windows, (w) => w.openWindows)),
        Number.isFinite(nextClose) ? time(nextClose, now.at) : '-',
        formatCount(late(t)),
        formatCount(t.deadLetters),
        formatCount(sum(t.stores ?? [], (s) => s.entries)),
        formatCount(t.asyncInFlight),
        secondsText((t.blockedMs ?? 0) / 1000),
      ])
      for (const i of t.inputs) {
        inputs.push([
          t.id,
          i.channel,
          i.watermark === null ? 'none yet' : time(i.watermark, now.at),
          i.maxEventTime === null ? '-' : time(i.maxEventTime, now.at),
          i.idle ? 'idle' : 'no',
          secondsText(i.quietMs / 1000),
        ])
      }
    }
  }
  const sections: string[] = [table(pipelines)]
  if (now.pipelines.length > 0) {
    sections.push(table(latency), table(commits), table(tasks), table(inputs))
  }
  if (now.connectors.length > 0) {
    const c: string[][] = [
      ['connector', 'kind', 'type', 'topic', 'state', 'records', 'dead letters', 'errors', 'last error'],
    ]
    for (const x of now.connectors) {
      c.push([
        x.name,
        x.kind,
        x.type,
        x.topic,
        x.state,
        formatCount(x.records),
        formatCount(x.deadLetters),
        formatCount(x.errors),
        x.lastError?.slice(0, 60) ?? '',
      ])
    }
    sections.push(table(c))
  }
  return sections.join('\n')
}

/** Records read from the pipeline's own source topics (positions; repartition topics left out). */
function sourceRead(p: PipelineMetrics): number {
  let n = 0
  for (const t of p.tasks) for (const x of t.positions) if (!x.topic.endsWith('-repartition')) n += x.position
  return n
}

/** As `sluice_consumer_lag_seconds`: with records waiting, how long ago the last processed one was written. */
function lagSeconds(x: TaskMetricsSnapshot['positions'][number], now: number): number {
  return x.lag !== null && x.lag > 0 && x.lastLogTime !== null ? Math.max(0, now - x.lastLogTime) / 1000 : 0
}

function late(t: TaskMetricsSnapshot): number {
  return sum(t.windows, (w) => w.lateRecords) + (t.lateDropped ?? 0)
}

function percentiles(s: LatencySummary): string[] {
  if (s.count === 0) return ['-', '-', '-', '-', '-']
  return [s.p50, s.p90, s.p99, s.p999, s.max].map(msText)
}

function msText(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : formatCount(ms)
}

function secondsText(s: number): string {
  return s < 10 ? s.toFixed(2) : formatCount(s)
}

function rateText(n: number): string {
  return n > 0 && n < 10 ? n.toFixed(1) : formatCount(n)
}

/** UTC; the time of day alone when it is on the day of the sample, to keep the tables narrow. */
function time(ms: number, at: number): string {
  const iso = new Date(ms).toISOString()
  return iso.slice(0, 10) === new Date(at).toISOString().slice(0, 10) ? iso.slice(11) : iso
}

function total(p: PipelineMetrics, f: (t: TaskMetricsSnapshot) => number): number {
  return sum(p.tasks, f)
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let n = 0
  for (const i of items) n += f(i)
  return n
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`
}
