/** Topics: partitions, offsets, retention and size; one topic's live tail and dead letters. */
import { useState } from 'preact/hooks'
import { DeadLetters } from '../components/dead-letters.tsx'
import { Tail } from '../components/tail.tsx'
import { bytes, count, duration } from '../format.ts'
import { useLive, usePoll } from '../live.ts'
import { href } from '../router.ts'
import type { TopicSummary, TopologyGraph } from '../types.ts'

/** What a topic is to the running pipelines. */
export function roleOf(name: string, graphs: readonly TopologyGraph[]): string {
  if (name.startsWith('__')) return 'internal'
  if (name.endsWith('-changelog')) return 'changelog'
  const roles = new Set<string>()
  for (const g of graphs) {
    if (g.deadLetterTopic === name) roles.add('dead letters')
    if (g.sourceTopics.includes(name)) roles.add('source')
    if (g.sinkTopics.includes(name)) roles.add('output')
    if (g.repartitionTopics.includes(name)) roles.add('repartition')
  }
  return [...roles].join(', ')
}

function retention(t: TopicSummary): string {
  const parts: string[] = []
  if (t.retentionMs !== null) parts.push(duration(t.retentionMs))
  if (t.retentionBytes !== null) parts.push(bytes(t.retentionBytes))
  if (t.compact) parts.push('compacted')
  return parts.length === 0 ? 'forever' : parts.join(', ')
}

export function TopicsPage() {
  const live = useLive()
  const { data, error } = usePoll<{ topics: TopicSummary[] }>('/api/topics', 2_000)
  const [internal, setInternal] = useState(false)
  const topics = (data?.topics ?? []).filter(
    (t) => internal || !roleOf(t.name, live.graphs).match(/internal|changelog/),
  )
  return (
    <div class="page">
      <h1>Topics</h1>
      {error ? <p class="error">{error}</p> : null}
      <label class="check">
        <input type="checkbox" checked={internal} onChange={() => setInternal(!internal)} /> show internal
        topics (ingest keys, checkpoints, changelogs)
      </label>
      <div class="table-wrap">
        <table data-test="topics">
          <thead>
            <tr>
              <th>topic</th>
              <th>role</th>
              <th class="num">partitions</th>
              <th class="num">records</th>
              <th class="num">size</th>
              <th>retention</th>
            </tr>
          </thead>
          <tbody>
            {topics.map((t) => (
              <tr key={t.name} data-topic={t.name}>
                <td>
                  <a href={href.topic(t.name)} class="strong">
                    {t.name}
                  </a>
                </td>
                <td class="muted">{roleOf(t.name, live.graphs)}</td>
                <td class="num">{t.partitions}</td>
                <td class="num" data-figure="records">
                  {count(t.records)}
                </td>
                <td class="num" data-figure="size">
                  {bytes(t.bytes)}
                </td>
                <td data-figure="retention">{retention(t)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && topics.length === 0 ? (
          <p class="empty">No topics{internal ? '' : ' (besides internal ones)'}.</p>
        ) : null}
      </div>
    </div>
  )
}

export function TopicPage(props: { name: string }) {
  const live = useLive()
  const { data: topic, error } = usePoll<TopicSummary>(`/api/topics/${encodeURIComponent(props.name)}`, 2_000)
  const role = roleOf(props.name, live.graphs)
  const deadLetters = role.includes('dead letters') || /(^|[-_.])dlq$/.test(props.name)
  return (
    <div class="page">
      <p class="crumbs">
        <a href={href.topics()}>Topics</a> /
      </p>
      <h1>
        {props.name} {role ? <span class="muted small">{role}</span> : null}
      </h1>
      {error ? <p class="error">{error}</p> : null}
      {topic ? (
        <section class="panel">
          <header class="panel-head">
            <h2>Partitions</h2>
            <span class="muted">
              retention {retention(topic)} · records up to {bytes(topic.maxRecordBytes)} ·{' '}
              <a href={href.resultTopic(props.name)}>as a live table</a>
            </span>
          </header>
          <div class="table-wrap">
            <table data-test="partitions">
              <thead>
                <tr>
                  <th class="num">partition</th>
                  <th class="num">start offset</th>
                  <th class="num">end offset</th>
                  <th class="num">records</th>
                  <th class="num">size</th>
                </tr>
              </thead>
              <tbody>
                {topic.partitionDetails.map((p) => (
                  <tr key={p.partition}>
                    <td class="num">{p.partition}</td>
                    <td class="num">{p.startOffset}</td>
                    <td class="num" data-figure="end-offset">
                      {p.endOffset}
                    </td>
                    <td class="num">{count(p.endOffset - p.startOffset)}</td>
                    <td class="num">{bytes(p.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      {deadLetters ? <DeadLetters topic={props.name} /> : null}
      <Tail topic={props.name} />
    </div>
  )
}
