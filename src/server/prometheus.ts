/**
 * Renders Sluice's figures as Prometheus text (exposition format 0.0.4), the way a Prometheus
 * client library would: HELP and TYPE once per family, counters end in `_total`, durations in
 * seconds, latency as histograms with cumulative `le` buckets. Rendered at scrape time from
 * the runners' snapshots, so recording costs nothing beyond the snapshots themselves.
 */
import type { ConnectorStatus } from '../connectors/status.ts'
import { Histogram } from '../runtime/metrics/histogram.ts'
import type { PipelineMetrics } from '../runtime/metrics/snapshot.ts'

/** Latency bucket bounds, seconds: 1 ms … 60 s. */
const LE = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
/** The percentiles given from the HDR histograms: p50, p90, p99, p99.9. */
const QUANTILES = [0.5, 0.9, 0.99, 0.999]

export interface ServerFigures {
  subscriptionsOpen: number
  subscriptionsDropped: number
  ingestQueuedBytes: number
}

/** Samples grouped by family, as the format requires (one HELP/TYPE, then all its samples). */
class Families {
  readonly #families = new Map<string, string[]>()

  sample(
    name: string,
    type: 'counter' | 'gauge' | 'histogram',
    help: string,
    labels: Record<string, string>,
    value: number,
    suffix = '',
  ): void {
    let lines = this.#families.get(name)
    if (!lines) {
      lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
      this.#families.set(name, lines)
    }
    lines.push(`${name}${suffix}${renderLabels(labels)} ${formatValue(value)}`)
  }

  text(): string {
    return `${[...this.#families.values()].flat().join('\n')}\n`
  }
}

function renderLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  )
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

export function renderPrometheus(
  pipelines: readonly PipelineMetrics[],
  connectors: readonly ConnectorStatus[],
  server: ServerFigures,
  now = Date.now(),
): string {
  const f = new Families()
  for (const p of pipelines) {
    const pl = { pipeline: p.pipeline }
    f.sample(
      'sluice_pipeline_up',
      'gauge',
      'The pipeline runs (1) or has stopped or failed (0).',
      pl,
      p.state === 'running' ? 1 : 0,
    )
    f.sample(
      'sluice_commits_total',
      'counter',
      'Commits (outputs, state and input offsets, atomically).',
      pl,
      p.commits,
    )
    if (p.blockedMs !== undefined) {
      f.sample(
        'sluice_commit_blocked_seconds_total',
        'counter',
        'Time processing waited for a commit slot: the log not keeping up (backpressure).',
        pl,
        p.blockedMs / 1000,
      )
    }
    if (p.commitLatency && p.commitLatency.count > 0) {
      const h = Histogram.from(p.commitLatency)
      const name = 'sluice_commit_seconds'
      const help = 'Commit duration: the transaction queued to its acknowledgement (fsync included).'
      for (const le of LE)
        f.sample(name, 'histogram', help, { ...pl, le: String(le) }, h.countAtOrBelow(le * 1000), '_bucket')
      f.sample(name, 'histogram', help, { ...pl, le: '+Inf' }, h.count, '_bucket')
      f.sample(name, 'histogram', help, pl, h.sumMs / 1000, '_sum')
      f.sample(name, 'histogram', help, pl, h.count, '_count')
    }
    for (const t of p.tasks) {
      const tl = { pipeline: p.pipeline, task: t.id }
      f.sample('sluice_records_in_total', 'counter', 'Records read by a task.', tl, t.recordsIn)
      f.sample(
        'sluice_records_out_total',
        'counter',
        'Records a task wrote to sinks and repartition topics.',
        tl,
        t.recordsOut,
      )
      for (const st of t.steps ?? []) {
        f.sample(
          'sluice_step_records_in_total',
          'counter',
          'Records into a step of a task (operators by their stable names).',
          { ...tl, step: st.step },
          st.recordsIn,
        )
      }
      f.sample(
        'sluice_dead_letters_total',
        'counter',
        'Records sent to the dead-letter topic.',
        tl,
        t.deadLetters,
      )
      f.sample(
        'sluice_processing_seconds_total',
        'counter',
        'Time spent processing records; divided by records_in, the time per record.',
        tl,
        t.busyMs / 1000,
      )
      f.sample(
        'sluice_async_blocked_seconds_total',
        'counter',
        'Time processing waited for mapAsync results (backpressure from a slow service).',
        tl,
        (t.blockedMs ?? 0) / 1000,
      )
      f.sample(
        'sluice_late_records_total',
        'counter',
        'Records behind the watermark: sent to a window late output, or dropped by a pattern or a stream–stream join.',
        tl,
        sum(t.windows, (w) => w.lateRecords) + t.lateDropped,
      )
      f.sample(
        'sluice_open_windows',
        'gauge',
        'Windows open (waiting for the watermark to pass their end); for hopping windows kept as panes, the panes held.',
        tl,
        sum(t.windows, (w) => w.openWindows),
      )
      const next = Math.min(...t.windows.map((w) => w.nextClose ?? Number.POSITIVE_INFINITY))
      if (Number.isFinite(next))
        f.sample(
          'sluice_next_window_close_seconds',
          'gauge',
          'Event time (unix seconds) at which the next window closes.',
          tl,
          next / 1000,
        )
      if (t.watermark !== null)
        f.sample(
          'sluice_watermark_seconds',
          'gauge',
          "A task's watermark (event time, unix seconds).",
          tl,
          t.watermark / 1000,
        )
      f.sample('sluice_async_in_flight', 'gauge', 'mapAsync calls in flight.', tl, t.asyncInFlight)
      for (const s of t.stores ?? []) {
        f.sample(
          'sluice_state_entries',
          'gauge',
          "Entries a task's state store holds in memory (joins, windows, patterns: flat under steady input when state is bounded).",
          { ...tl, store: s.store },
          s.entries,
        )
      }
      for (const i of t.inputs) {
        const il = { pipeline: p.pipeline, task: t.id, input: i.channel }
        if (i.watermark !== null)
          f.sample(
            'sluice_input_watermark_seconds',
            'gauge',
            'Event time an input has reached (unix seconds).',
            il,
            i.watermark / 1000,
          )
        f.sample(
          'sluice_input_idle',
          'gauge',
          'The input is idle (1): it no longer holds the task watermark back.',
          il,
          i.idle ? 1 : 0,
        )
      }
      for (const pos of t.positions) {
        const ll = { pipeline: p.pipeline, topic: pos.topic, partition: String(pos.partition) }
        f.sample(
          'sluice_input_position',
          'gauge',
          'The next offset a pipeline reads in an input partition.',
          ll,
          pos.position,
        )
        if (pos.lag !== null) {
          f.sample(
            'sluice_consumer_lag_records',
            'gauge',
            'Records appended to an input partition and not yet processed.',
            ll,
            pos.lag,
          )
          const behind =
            pos.lag > 0 && pos.lastLogTime !== null ? Math.max(0, now - pos.lastLogTime) / 1000 : 0
          f.sample(
            'sluice_consumer_lag_seconds',
            'gauge',
            'With records waiting: seconds since the last processed record was written (0 when caught up).',
            ll,
            behind,
          )
        }
      }
    }
    for (const [kind, which, help] of [
      [
        'append',
        'latency',
        'Append time (when the log stored the record; on Kafka its timestamp) to output committed.',
      ],
      ['event', 'eventLatency', 'Event time to output committed (includes waiting for windows).'],
    ] as const) {
      const h = new Histogram()
      for (const t of p.tasks) h.add(t[which])
      if (h.count === 0) continue
      const hl = { pipeline: p.pipeline, kind }
      const name = 'sluice_latency_seconds'
      for (const le of LE)
        f.sample(name, 'histogram', help, { ...hl, le: String(le) }, h.countAtOrBelow(le * 1000), '_bucket')
      f.sample(name, 'histogram', help, { ...hl, le: '+Inf' }, h.count, '_bucket')
      f.sample(name, 'histogram', help, hl, h.sumMs / 1000, '_sum')
      f.sample(name, 'histogram', help, hl, h.count, '_count')
      // The le buckets above are coarse (15 bounds); the HDR histogram places every value
      // within 1/16, so its percentiles are given as well.
      for (const q of QUANTILES)
        f.sample(
          'sluice_latency_percentile_seconds',
          'gauge',
          'Latency percentiles since start from the HDR histogram (within 1/16 of the true value); kind as in sluice_latency_seconds.',
          { ...hl, quantile: String(q) },
          h.percentile(q) / 1000,
        )
    }
  }
  for (const c of connectors) {
    const cl = { connector: c.name, kind: c.kind, type: c.type, topic: c.topic }
    f.sample(
      'sluice_connector_up',
      'gauge',
      'The connector runs (1), or retries, has stopped or ended (0).',
      cl,
      c.state === 'running' ? 1 : 0,
    )
    f.sample(
      'sluice_connector_records_total',
      'counter',
      'Records a connector wrote (sink) or appended (source).',
      cl,
      c.records,
    )
    f.sample(
      'sluice_connector_dead_letters_total',
      'counter',
      "Records sent to a connector's dead-letter topic.",
      cl,
      c.deadLetters,
    )
    f.sample('sluice_connector_errors_total', 'counter', 'Failed writes or source restarts.', cl, c.errors)
  }
  f.sample(
    'sluice_subscriptions_open',
    'gauge',
    'Open SSE and WebSocket subscriptions.',
    {},
    server.subscriptionsOpen,
  )
  f.sample(
    'sluice_subscriptions_dropped_total',
    'counter',
    'Subscriptions dropped for reading too slowly.',
    {},
    server.subscriptionsDropped,
  )
  f.sample(
    'sluice_ingest_queued_bytes',
    'gauge',
    'Ingested bytes waiting for their log commit.',
    {},
    server.ingestQueuedBytes,
  )
  return f.text()
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let n = 0
  for (const i of items) n += f(i)
  return n
}
