/** Every pipeline at a glance: state, throughput, p99 latency, lag, late records, dead letters. */
import { Sparkline } from '../components/sparkline.tsx'
import { count, ms, rate, time } from '../format.ts'
import { recentPercentile, useLive } from '../live.ts'
import { href } from '../router.ts'

const SPARK = 60

export function Overview() {
  const live = useLive()
  const metrics = live.metrics
  if (!metrics) return <p class="empty">Waiting for the first figures…</p>
  const recent = live.history.slice(-SPARK)
  return (
    <div class="page">
      <h1>Pipelines</h1>
      {metrics.pipelines.length === 0 ? (
        <p class="empty">
          No pipelines run in this server (sluice serve, or a file of connectors only). Topics and their
          records are under <a href={href.topics()}>Topics</a>.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="overview" data-test="pipelines">
            <thead>
              <tr>
                <th>pipeline</th>
                <th>state</th>
                <th class="num">read</th>
                <th>in / s</th>
                <th class="num">out / s</th>
                <th>p99 latency (10 s)</th>
                <th class="num">lag</th>
                <th>watermark</th>
                <th class="num">late</th>
                <th class="num">dead letters</th>
              </tr>
            </thead>
            <tbody>
              {metrics.pipelines.map((p) => {
                const graph = live.graphs.find((g) => g.pipeline === p.pipeline)
                const s = live.history.at(-1)?.pipelines[p.pipeline]
                const sources = new Set(graph?.sourceTopics ?? [])
                const read = p.tasks
                  .flatMap((t) => t.positions)
                  .filter((x) => sources.has(x.topic))
                  .reduce((n, x) => n + x.position, 0)
                const wms = p.tasks.map((t) => t.watermark).filter((w): w is number => w !== null)
                const inRates = recent.map((h) => h.pipelines[p.pipeline]?.inRate ?? null)
                const p99s = recent.map((h) => h.pipelines[p.pipeline]?.latency.p99 ?? null)
                return (
                  <tr key={p.pipeline} data-pipeline={p.pipeline}>
                    <td>
                      <a href={href.pipeline(p.pipeline)} class="strong">
                        {p.pipeline}
                      </a>
                      <div class="muted small">
                        {p.tasks.length} task{p.tasks.length === 1 ? '' : 's'} · {count(p.commits)} commits
                      </div>
                    </td>
                    <td>
                      <span class={`badge badge-${p.state}`}>{p.state}</span>
                    </td>
                    <td class="num" data-figure="read">
                      {count(read)}
                    </td>
                    <td>
                      <div class="spark-cell">
                        <span class="num" data-figure="in-rate">
                          {rate(s?.inRate)}
                        </span>
                        <Sparkline
                          values={inRates}
                          label={`${p.pipeline}: records in per second, last minute`}
                        />
                      </div>
                    </td>
                    <td class="num" data-figure="out-rate">
                      {rate(s?.outRate)}
                    </td>
                    <td>
                      <div class="spark-cell">
                        <span class="num" data-figure="p99">
                          {ms(recentPercentile(live.history, p.pipeline, 0.99))}
                        </span>
                        <Sparkline
                          values={p99s}
                          label={`${p.pipeline}: p99 latency per second, last minute`}
                        />
                      </div>
                    </td>
                    <td class={`num${(s?.lag ?? 0) > 0 ? ' warn-text' : ''}`} data-figure="lag">
                      {count(s?.lag ?? 0)}
                    </td>
                    <td class="nowrap">{wms.length > 0 ? time(Math.min(...wms)) : '–'}</td>
                    <td class={`num${(s?.late ?? 0) > 0 ? ' warn-text' : ''}`} data-figure="late">
                      {count(s?.late ?? 0)}
                    </td>
                    <td
                      class={`num${(s?.deadLetters ?? 0) > 0 ? ' error-text' : ''}`}
                      data-figure="dead-letters"
                    >
                      {graph ? (
                        <a href={href.topic(graph.deadLetterTopic)}>{count(s?.deadLetters ?? 0)}</a>
                      ) : (
                        count(s?.deadLetters ?? 0)
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
      {metrics.connectors.length > 0 ? (
        <>
          <h2>Connectors</h2>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>connector</th>
                  <th>flow</th>
                  <th>state</th>
                  <th class="num">records</th>
                  <th class="num">dead letters</th>
                  <th>last error</th>
                </tr>
              </thead>
              <tbody>
                {metrics.connectors.map((c) => (
                  <tr key={c.name}>
                    <td class="strong">{c.name}</td>
                    <td>{c.kind === 'sink' ? `${c.topic} → ${c.type}` : `${c.type} → ${c.topic}`}</td>
                    <td>
                      <span class={`badge badge-${c.state}`}>{c.state}</span>
                    </td>
                    <td class="num">{count(c.records)}</td>
                    <td class="num">{count(c.deadLetters)}</td>
                    <td class="error-text small">{c.lastError ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
      <p class="muted small">
        Server: {metrics.server.subscriptionsOpen} live subscription
        {metrics.server.subscriptionsOpen === 1 ? '' : 's'}, {metrics.server.subscriptionsDropped} dropped for
        reading too slowly, {count(metrics.server.ingestQueuedBytes)} bytes of ingest waiting. Figures every
        second; rates are over the last second, p99 latency over the last ten.
      </p>
    </div>
  )
}
