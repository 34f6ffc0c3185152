/**
 * End-to-end latency per pipeline: from a record's append (or its event time) to its output's
 * commit. Percentiles per second from the difference of two polls' histograms, kept here for the
 * last five minutes; the histogram of the last minute; and the totals since start.
 */
import { useMemo, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { Chart } from '../components/chart.tsx'
import { count, ms } from '../format.ts'
import { type Buckets, bucketUpperUs, sum, total } from '../histogram.ts'
import { useLive } from '../live.ts'
import { href } from '../router.ts'

type Kind = 'latency' | 'eventLatency'

const KINDS: Record<Kind, string> = {
  latency: 'append time → output committed',
  eventLatency: 'event time → output committed',
}

export function LatencyPage(props: { pipeline: string | null }) {
  const live = useLive()
  const [kind, setKind] = useState<Kind>('latency')
  const names = live.metrics?.pipelines.map((p) => p.pipeline) ?? []
  const name = props.pipeline ?? names[0] ?? null
  const metrics = live.metrics?.pipelines.find((p) => p.pipeline === name)
  const history = live.history

  const series = useMemo(() => {
    const xs: number[] = []
    const lines: Array<Array<number | null>> = [[], [], [], []]
    for (const s of history) {
      const p = name === null ? undefined : s.pipelines[name]
      const q = p?.[kind]
      xs.push(s.at / 1000)
      // The log scale cannot show 0: sub-microsecond values are drawn at 1 µs.
      const at = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.max(v, 0.001))
      lines[0]!.push(at(q?.p50))
      lines[1]!.push(at(q?.p90))
      lines[2]!.push(at(q?.p99))
      lines[3]!.push(at(q?.p999))
    }
    return [xs, ...lines] as uPlot.AlignedData
  }, [history, name, kind])

  const lastMinute = useMemo(() => {
    const list: Buckets[] = []
    for (const s of history.slice(-60)) {
      const p = name === null ? undefined : s.pipelines[name]
      if (p) list.push(kind === 'latency' ? p.latencyBuckets : p.eventBuckets)
    }
    return sum(list)
  }, [history, name, kind])

  if (!live.metrics) return <p class="empty">Waiting for the first figures…</p>
  if (name === null) return <p class="empty">No pipelines run in this server.</p>
  const totals = metrics?.[kind]
  const hasPoints = series.slice(1).some((line) => (line as Array<number | null>).some((v) => v !== null))
  return (
    <div class="page">
      <h1>Latency</h1>
      <div class="tabs">
        {names.map((n) => (
          <a key={n} href={href.latency(n)} class={n === name ? 'active' : ''}>
            {n}
          </a>
        ))}
        <span class="spacer" />
        {(Object.keys(KINDS) as Kind[]).map((k) => (
          <button key={k} type="button" class={k === kind ? 'active' : ''} onClick={() => setKind(k)}>
            {KINDS[k]}
          </button>
        ))}
      </div>
      <div class="stats">
        <Figure label="p50 since start" value={ms(totals?.p50)} name="p50" />
        <Figure label="p90" value={ms(totals?.p90)} name="p90" />
        <Figure label="p99" value={ms(totals?.p99)} name="p99" />
        <Figure label="p99.9" value={ms(totals?.p999)} name="p999" />
        <Figure label="max" value={ms(totals?.max)} name="max" />
        <Figure label="records measured" value={count(totals?.count)} name="measured" />
      </div>
      <section class="panel" data-test="latency-chart">
        <header class="panel-head">
          <h2>Percentiles per second</h2>
          <span class="muted">{KINDS[kind]}, last five minutes; gaps are seconds with no output</span>
        </header>
        <Chart
          data={series}
          series={['p50', 'p90', 'p99', 'p99.9']}
          yLabel="ms"
          yFormat={(v) => ms(v)}
          logY={hasPoints}
          dots
          minSpan={60}
          height={260}
        />
      </section>
      <section class="panel">
        <header class="panel-head">
          <h2>Histogram, last minute</h2>
          <span class="muted">{count(total(lastMinute))} records</span>
        </header>
        <Bars buckets={lastMinute} />
      </section>
    </div>
  )
}

function Figure(props: { label: string; value: string; name: string }) {
  return (
    <div class="stat" data-figure={props.name}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
    </div>
  )
}

/** Counts grouped by powers of two of milliseconds: readable bins over a wide range. */
function Bars(props: { buckets: Buckets }) {
  const bins = new Map<number, number>()
  for (const [i, c] of props.buckets) {
    const upperMs = Math.max(bucketUpperUs(i) / 1000, 0.001)
    const e = Math.ceil(Math.log2(upperMs))
    bins.set(e, (bins.get(e) ?? 0) + c)
  }
  if (bins.size === 0) return <p class="empty">Nothing measured in the last minute.</p>
  const es = [...bins.keys()].sort((a, b) => a - b)
  const all: number[] = []
  for (let e = es[0]!; e <= es.at(-1)!; e++) all.push(e)
  const max = Math.max(...bins.values())
  return (
    <div class="bars" data-test="histogram">
      {all.map((e) => {
        const c = bins.get(e) ?? 0
        return (
          <div key={e} class="bar" title={`${count(c)} records ≤ ${ms(2 ** e)}`}>
            <div class="bar-count">{c > 0 ? count(c) : ''}</div>
            <div class="bar-fill" style={{ height: `${Math.max(c > 0 ? 2 : 0, (c / max) * 140)}px` }} />
            <div class="bar-label">≤ {ms(2 ** e)}</div>
          </div>
        )
      })}
    </div>
  )
}
