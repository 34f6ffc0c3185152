/**
 * Live results: an output topic (streamed) or a queryable store (polled) as a table of the
 * latest value per key — per key and window for windowed results, which also get a chart.
 */
import { useMemo } from 'preact/hooks'
import type uPlot from 'uplot'
import { Chart } from '../components/chart.tsx'
import { useTail } from '../components/tail.tsx'
import { count, preview, tick, time } from '../format.ts'
import { useLive, usePoll } from '../live.ts'
import { href, type Route } from '../router.ts'

/** One row of a live table: the latest value of a key (and window). */
interface Row {
  key: string
  window: { start: number; end: number } | null
  value: unknown
  at: number | null
  where: string
}

const MAX_SERIES = 8
const MAX_POINTS = 120

export function ResultsPage(props: { route: Extract<Route, { page: 'results' }> }) {
  const live = useLive()
  // Without pipelines (sluice serve) there is no state to ask for.
  const { data: stores, error: storesError } = usePoll<{ pipelines: Record<string, string[]> }>(
    live.graphs.length > 0 ? '/stores' : null,
    10_000,
  )
  const outputs = [...new Set(live.graphs.flatMap((g) => g.sinkTopics))].sort()
  const { topic, store } = props.route
  return (
    <div class="page results">
      <h1>Live results</h1>
      <div class="results-layout">
        <nav class="picker" aria-label="results to show">
          <h3>Output topics</h3>
          {outputs.length === 0 ? <p class="muted small">none</p> : null}
          {outputs.map((t) => (
            <a key={t} href={href.resultTopic(t)} class={topic === t ? 'active' : ''} data-pick={t}>
              {t}
            </a>
          ))}
          <h3>Queryable state</h3>
          {storesError ? <p class="muted small">{storesError}</p> : null}
          {Object.entries(stores?.pipelines ?? {}).flatMap(([pipeline, steps]) =>
            steps.map((step) => (
              <a
                key={`${pipeline}/${step}`}
                href={href.resultStore(pipeline, step)}
                class={store?.pipeline === pipeline && store.step === step ? 'active' : ''}
                data-pick={`${pipeline}.${step}`}
              >
                {pipeline}.{step}
              </a>
            )),
          )}
        </nav>
        <div class="results-main">
          {topic ? <TopicResults topic={topic} /> : null}
          {store ? <StoreResults pipeline={store.pipeline} step={store.step} /> : null}
          {!topic && !store ? <p class="empty">Pick an output topic or a store.</p> : null}
        </div>
      </div>
    </div>
  )
}

function TopicResults(props: { topic: string }) {
  const { records, status, error } = useTail(props.topic, { from: { last: 500 }, keep: 5_000 })
  const rows = useMemo(() => {
    const latest = new Map<string, Row>()
    for (const r of records) {
      const w = windowOf(r.value)
      const key = r.key ?? keyOf(r.value) ?? ''
      latest.set(`${key}\u0000${w?.start ?? ''}`, {
        key,
        window: w,
        value: w ? (r.value as { value: unknown }).value : r.value,
        at: r.timestamp,
        where: `${r.partition}/${r.offset}`,
      })
    }
    return [...latest.values()]
  }, [records])
  return (
    <section class="panel" data-test="results">
      <header class="panel-head">
        <h2>{props.topic}</h2>
        <span class={`status status-${status}`}>{status}</span>
        <span class="muted">
          {count(records.length)} records read (the last 500 per partition, then live) · {rows.length} rows
        </span>
      </header>
      {error ? <p class="error">{error}</p> : null}
      <WindowChart rows={rows} />
      <ResultTable rows={rows} records />
    </section>
  )
}

function StoreResults(props: { pipeline: string; step: string }) {
  const path = `/stores/${encodeURIComponent(props.step)}?pipeline=${encodeURIComponent(props.pipeline)}&limit=500`
  const { data, error } = usePoll<{
    store: string
    kind: string
    entries: Array<{ key: string; value: unknown }>
  }>(path, 1_000)
  const rows = useMemo(() => {
    const out: Row[] = []
    for (const e of data?.entries ?? []) {
      if (data?.kind === 'window-aggregate' && Array.isArray(e.value)) {
        for (const w of e.value as Array<{ start: number; end: number; value: unknown }>) {
          out.push({
            key: e.key,
            window: { start: w.start, end: w.end },
            value: w.value,
            at: null,
            where: '',
          })
        }
      } else {
        out.push({ key: e.key, window: null, value: e.value, at: null, where: '' })
      }
    }
    return out
  }, [data])
  return (
    <section class="panel" data-test="results">
      <header class="panel-head">
        <h2>
          {props.pipeline}.{props.step}
        </h2>
        <span class="muted">
          {data
            ? `${data.kind} · ${data.entries.length} keys (first 500 by key) · read every second`
            : 'loading…'}
        </span>
      </header>
      {error ? <p class="error">{error}</p> : null}
      {data?.kind === 'window-aggregate' ? (
        <p class="muted small">
          A windowed store holds the open windows only: closed ones are in the output topic.
        </p>
      ) : null}
      <WindowChart rows={rows} />
      <ResultTable rows={rows} />
    </section>
  )
}

/** `records`: rows come from a topic's records, with their time and place in the log. */
function ResultTable(props: { rows: Row[]; records?: boolean }) {
  const windowed = props.rows.some((r) => r.window)
  const sorted = [...props.rows].sort(
    (a, b) => (b.window?.start ?? 0) - (a.window?.start ?? 0) || a.key.localeCompare(b.key),
  )
  return (
    <div class="table-wrap tall">
      <table class="records" data-test="result-rows">
        <thead>
          <tr>
            <th>key</th>
            {windowed ? <th>window</th> : null}
            <th>value</th>
            {props.records ? <th>time</th> : null}
            {props.records ? <th>partition/offset</th> : null}
          </tr>
        </thead>
        <tbody>
          {sorted.slice(0, 500).map((r) => (
            <tr key={`${r.key}|${r.window?.start ?? ''}`}>
              <td class="mono">{r.key}</td>
              {windowed ? (
                <td class="nowrap">{r.window ? `${time(r.window.start)} – ${time(r.window.end)}` : ''}</td>
              ) : null}
              <td class="mono value">{preview(r.value, 200)}</td>
              {props.records ? <td class="nowrap">{time(r.at)}</td> : null}
              {props.records ? <td class="num">{r.where}</td> : null}
            </tr>
          ))}
        </tbody>
      </table>
      {sorted.length === 0 ? <p class="empty">No results yet.</p> : null}
    </div>
  )
}

/** Numbers per key over window end, for windowed results whose value is (or holds) a number. */
function WindowChart(props: { rows: Row[] }) {
  const chart = useMemo(() => {
    const numeric = props.rows.filter((r) => r.window && numberOf(r.value) !== null)
    if (numeric.length === 0) return null
    const field = fieldName(numeric[0]!.value)
    // The keys with the newest windows.
    const newest = new Map<string, number>()
    for (const r of numeric) newest.set(r.key, Math.max(newest.get(r.key) ?? 0, r.window!.end))
    const keys = [...newest.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, MAX_SERIES)
      .map(([k]) => k)
      .sort()
    const xs = [...new Set(numeric.filter((r) => keys.includes(r.key)).map((r) => r.window!.end))]
      .sort((a, b) => a - b)
      .slice(-MAX_POINTS)
    const index = new Map(xs.map((x, i) => [x, i]))
    const ys = keys.map(() => xs.map(() => null as number | null))
    for (const r of numeric) {
      const k = keys.indexOf(r.key)
      const i = index.get(r.window!.end)
      if (k >= 0 && i !== undefined) ys[k]![i] = numberOf(r.value)
    }
    const data: uPlot.AlignedData = [xs.map((x) => x / 1000), ...ys]
    return { data, keys, field }
  }, [props.rows])
  if (!chart) return null
  return (
    <div class="chart-box" data-test="result-chart">
      <Chart
        data={chart.data}
        series={chart.keys}
        yLabel={chart.field ?? 'value'}
        yFormat={tick}
        height={240}
        points
      />
    </div>
  )
}

function windowOf(v: unknown): { start: number; end: number } | null {
  if (v === null || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  return typeof o.start === 'number' && typeof o.end === 'number' && 'value' in o
    ? { start: o.start, end: o.end }
    : null
}

function keyOf(v: unknown): string | null {
  if (v === null || typeof v !== 'object') return null
  const k = (v as Record<string, unknown>).key
  return typeof k === 'string' || typeof k === 'number' ? String(k) : null
}

/** The value if it is a number, else its first numeric field. */
function numberOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (v === null || typeof v !== 'object') return null
  for (const x of Object.values(v as Record<string, unknown>))
    if (typeof x === 'number' && Number.isFinite(x)) return x
  return null
}

function fieldName(v: unknown): string | null {
  if (typeof v === 'number' || v === null || typeof v !== 'object') return null
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') return k
  return null
}
