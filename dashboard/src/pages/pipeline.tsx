/**
 * One pipeline: its topology with live figures on each step, and "why no output?" — what holds
 * its results back, in sentences, with the watermarks, windows and tasks they come from.
 */
import { Topology } from '../components/topology.tsx'
import { count, duration, ms, rate, time } from '../format.ts'
import { recentPercentile, useLive, usePoll } from '../live.ts'
import { href } from '../router.ts'
import type { TopicSummary } from '../types.ts'
import { explain, taskName } from '../why.ts'

export function PipelinePage(props: { name: string }) {
  const live = useLive()
  const graph = live.graphs.find((g) => g.pipeline === props.name)
  const metrics = live.metrics?.pipelines.find((p) => p.pipeline === props.name)
  const { data: topics } = usePoll<{ topics: TopicSummary[] }>('/api/topics', 2_000)
  if (!live.metrics) return <p class="empty">Waiting for the first figures…</p>
  if (!graph && !metrics) {
    return (
      <p class="empty">
        No pipeline "{props.name}" runs here. <a href={href.overview()}>All pipelines</a>
      </p>
    )
  }
  const sample = live.history.at(-1)?.pipelines[props.name]
  const findings = metrics
    ? explain(graph, metrics, sample?.busy ?? {}, {
        async: sample?.asyncBlocked ?? {},
        commit: sample?.commitBlocked ?? null,
      })
    : []
  const highlight = new Set(findings.filter((f) => f.level !== 'ok').flatMap((f) => f.nodes))
  const topicRecords: Record<string, number> = {}
  for (const t of topics?.topics ?? []) topicRecords[t.name] = t.records
  let stateEntries = 0
  for (const t of metrics?.tasks ?? []) for (const s of t.stores ?? []) stateEntries += s.entries
  const nodeOfWindow = (subtopology: number, i: number) =>
    graph?.nodes.find((n) => n.subtopology === subtopology && n.window === i)

  return (
    <div class="page">
      <h1>
        {props.name} {metrics ? <span class={`badge badge-${metrics.state}`}>{metrics.state}</span> : null}
      </h1>
      <div class="stats">
        <Stat label="in / s" value={rate(sample?.inRate)} name="in-rate" />
        <Stat label="out / s" value={rate(sample?.outRate)} name="out-rate" />
        <Stat
          label="p99 latency (10 s)"
          value={ms(recentPercentile(live.history, props.name, 0.99))}
          name="p99"
        />
        <Stat label="lag" value={count(sample?.lag ?? 0)} name="lag" />
        <Stat label="late records" value={count(sample?.late ?? 0)} name="late" />
        <Stat label="dead letters" value={count(sample?.deadLetters ?? 0)} name="dead-letters" />
        <Stat label="commits / s" value={rate(sample?.commitRate)} name="commit-rate" />
        <Stat label="commit p99 (since start)" value={ms(metrics?.commitDuration?.p99)} name="commit-p99" />
        <Stat label="state entries" value={count(stateEntries)} name="state-entries" />
      </div>

      {graph ? (
        <section class="panel">
          <header class="panel-head">
            <h2>Topology</h2>
            <span class="muted">
              dead letters → <a href={href.topic(graph.deadLetterTopic)}>{graph.deadLetterTopic}</a>
              {graph.stores.length > 0 ? ` · state: ${graph.stores.join(', ')}` : ''}
            </span>
          </header>
          <Topology
            graph={graph}
            metrics={metrics}
            at={live.metrics.at}
            topicRecords={topicRecords}
            highlight={highlight}
          />
        </section>
      ) : null}

      {metrics ? (
        <section class="panel" data-test="why">
          <header class="panel-head">
            <h2>Why no output?</h2>
            <span class="muted">what holds results back, now</span>
          </header>
          <ul class="findings">
            {findings.map((f, i) => (
              <li key={i} class={`finding finding-${f.level}`} data-level={f.level}>
                {f.text}
              </li>
            ))}
          </ul>

          <h3>Watermark per input partition</h3>
          <div class="table-wrap">
            <table data-test="inputs">
              <thead>
                <tr>
                  <th>task</th>
                  <th>input</th>
                  <th>watermark</th>
                  <th>newest event time</th>
                  <th>quiet for</th>
                  <th>idle</th>
                  <th class="num">lag</th>
                </tr>
              </thead>
              <tbody>
                {metrics.tasks.flatMap((t) =>
                  t.inputs.map((input) => {
                    const [topic, partition] = input.channel.replace(/#\d+$/, '').split(/\/(?=\d+$)/)
                    const lag = t.positions.find(
                      (x) => x.topic === topic && String(x.partition) === partition,
                    )?.lag
                    const holding = !input.idle && input.watermark === t.watermark
                    return (
                      <tr key={`${t.id}|${input.channel}`} class={holding ? 'holding' : ''}>
                        <td class="mono">{taskName(t)}</td>
                        <td class="mono">{input.channel}</td>
                        <td class="nowrap">{time(input.watermark)}</td>
                        <td class="nowrap">{time(input.maxEventTime)}</td>
                        <td class="nowrap">{duration(input.quietMs)}</td>
                        <td>{input.idle ? <span class="badge badge-idle">idle</span> : 'no'}</td>
                        <td class="num">{lag === undefined || lag === null ? '–' : count(lag)}</td>
                      </tr>
                    )
                  }),
                )}
              </tbody>
            </table>
          </div>

          {metrics.tasks.some((t) => t.windows.length > 0) ? (
            <>
              <h3>Windows</h3>
              <div class="table-wrap">
                <table data-test="windows">
                  <thead>
                    <tr>
                      <th>task</th>
                      <th>window</th>
                      <th class="num">open</th>
                      <th>next closes at (event time)</th>
                      <th>task watermark</th>
                      <th class="num">late records</th>
                    </tr>
                  </thead>
                  <tbody>
                    {metrics.tasks.flatMap((t) =>
                      t.windows.map((w, i) => (
                        <tr key={`${t.id}|${i}`}>
                          <td class="mono">{taskName(t)}</td>
                          <td class="mono">{nodeOfWindow(t.subtopology, i)?.name ?? `#${i + 1}`}</td>
                          <td class="num">{count(w.openWindows)}</td>
                          <td class="nowrap">{time(w.nextClose)}</td>
                          <td class="nowrap">{time(t.watermark)}</td>
                          <td class={`num${w.lateRecords > 0 ? ' warn-text' : ''}`}>
                            {count(w.lateRecords)}
                          </td>
                        </tr>
                      )),
                    )}
                  </tbody>
                </table>
              </div>
            </>
          ) : null}

          <h3>Tasks</h3>
          <div class="table-wrap">
            <table data-test="tasks">
              <thead>
                <tr>
                  <th>task</th>
                  <th class="num">records in</th>
                  <th class="num">records out</th>
                  <th class="num">busy (last s)</th>
                  <th class="num">µs / record</th>
                  <th>watermark</th>
                  <th class="num">lag</th>
                  <th class="num">state entries</th>
                  <th class="num">mapAsync in flight</th>
                  <th class="num">waits on mapAsync (last s)</th>
                  <th class="num">dead letters</th>
                </tr>
              </thead>
              <tbody>
                {metrics.tasks.map((t) => {
                  const busy = sample?.busy[t.id]
                  const waits = sample?.asyncBlocked[t.id]
                  return (
                    <tr key={t.id}>
                      <td class="mono">{taskName(t)}</td>
                      <td class="num">{count(t.recordsIn)}</td>
                      <td class="num">{count(t.recordsOut)}</td>
                      <td class={`num${(busy ?? 0) >= 0.9 ? ' warn-text' : ''}`}>
                        {busy === undefined ? '–' : `${Math.round(busy * 100)}%`}
                      </td>
                      <td class="num">
                        {t.recordsIn > 0 ? ((t.busyMs * 1000) / t.recordsIn).toFixed(1) : '–'}
                      </td>
                      <td class="nowrap">{time(t.watermark)}</td>
                      <td class="num">{count(t.positions.reduce((n, x) => n + (x.lag ?? 0), 0))}</td>
                      <td class="num">{count((t.stores ?? []).reduce((n, s) => n + s.entries, 0))}</td>
                      <td class="num">{count(t.asyncInFlight)}</td>
                      <td class={`num${(waits ?? 0) >= 0.25 ? ' warn-text' : ''}`}>
                        {waits === undefined ? '–' : `${Math.round(waits * 100)}%`}
                      </td>
                      <td class="num">{count(t.deadLetters)}</td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </div>
  )
}

export function Stat(props: { label: string; value: string; name: string }) {
  return (
    <div class="stat" data-figure={props.name}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
    </div>
  )
}
