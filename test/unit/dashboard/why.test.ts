/**
 * The dashboard's "why no output?" sentences (dashboard/src/why.ts) from hand-made figures over
 * a real compiled topology: which input holds a window back and why (quiet but not idle yet,
 * or followed through a repartition topic to the upstream task), every input idle, late
 * records, lag, a failed pipeline, and nothing to report.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compile, count, pipeline, topic, tumbling } from 'sluice'
import type { PipelineMetrics, TaskMetrics } from '../../../dashboard/src/types.ts'
import { explain } from '../../../dashboard/src/why.ts'
import { topologyGraph } from '../../../src/topology/graph.ts'

interface Reading {
  sensor: string
  at: number
}

const p = pipeline('why')
p.from(topic<Reading>('why-readings', { key: (r) => r.sensor, timestamp: (r) => r.at }), {
  watermark: { idleAfter: '30s' },
})
  .keyBy((r) => r.sensor)
  .window(tumbling({ size: '10s' }), { allowedLateness: 0, late: topic('why-late') })
  .aggregate(count(), { name: 'per-10s' })
  .to(topic('why-out'))
const graph = topologyGraph(compile(p))
const REPARTITION = 'why-per-10s-by-repartition'

// Today at noon: the dashboard writes event times of today as a clock time alone.
const t0 = new Date().setHours(12, 0, 0, 0)
const empty = { buckets: [], count: 0, sumMs: 0, maxMs: 0 }

function task(over: Partial<TaskMetrics> & Pick<TaskMetrics, 'subtopology' | 'partition'>): TaskMetrics {
  return {
    id: `why/${over.subtopology}/${over.partition}`,
    recordsIn: 10,
    recordsOut: 10,
    deadLetters: 0,
    busyMs: 0,
    watermark: null,
    inputs: [],
    positions: [],
    windows: [],
    asyncInFlight: 0,
    latency: empty,
    eventLatency: empty,
    ...over,
  }
}

function metrics(tasks: TaskMetrics[], state: PipelineMetrics['state'] = 'running'): PipelineMetrics {
  const none = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 }
  return { pipeline: 'why', state, commits: 3, tasks, latency: none, eventLatency: none }
}

test('a window waits on a quiet input that is not idle yet, found through the repartition topic', () => {
  const upstream = task({
    subtopology: 0,
    partition: 1,
    watermark: t0 + 3_000,
    inputs: [
      {
        channel: 'why-readings/1',
        watermark: t0 + 3_000,
        maxEventTime: t0 + 3_000,
        idle: false,
        quietMs: 4_000,
      },
    ],
  })
  const windowTask = task({
    subtopology: 1,
    partition: 0,
    watermark: t0 + 3_000,
    inputs: [
      { channel: `${REPARTITION}/0#0`, watermark: t0 + 9_000, maxEventTime: null, idle: false, quietMs: 100 },
      {
        channel: `${REPARTITION}/0#1`,
        watermark: t0 + 3_000,
        maxEventTime: null,
        idle: false,
        quietMs: 4_000,
      },
    ],
    windows: [{ openWindows: 2, nextClose: t0 + 10_000, lateRecords: 0 }],
  })
  const findings = explain(graph, metrics([upstream, windowTask]), {})
  assert.equal(findings.length, 1)
  assert.equal(findings[0]!.level, 'wait')
  assert.equal(
    findings[0]!.text,
    'Window per-10s on task 1/0 waits for event time 12:00:10 to close its next window (2 open); ' +
      `input ${REPARTITION}/0#1 is at 12:00:03, from upstream task 0/1, where input why-readings/1 is at 12:00:03 ` +
      'and has been quiet 4 s — it is not idle yet (idleAfter 30 s), so it holds the watermark back.',
  )
  // The window waiting and the source holding it back are both marked on the graph.
  assert.deepEqual(findings[0]!.nodes, ['per-10s', REPARTITION, 'why-readings'])
})

test('every input idle: event time stands still until records arrive', () => {
  const t = task({
    subtopology: 1,
    partition: 0,
    watermark: t0,
    inputs: [
      { channel: `${REPARTITION}/0#0`, watermark: t0, maxEventTime: null, idle: true, quietMs: 60_000 },
    ],
    windows: [{ openWindows: 1, nextClose: t0 + 10_000, lateRecords: 0 }],
  })
  const [f] = explain(graph, metrics([t]), {})
  assert.match(f!.text, /every input is idle, so event time stands at 12:00:00 until records arrive/)
  assert.match(f!.text, /advance: 'processing-time'/)
})

test('late records, lag, dead letters and a busy task are each said, with what to do', () => {
  const source = task({
    subtopology: 0,
    partition: 0,
    deadLetters: 2,
    positions: [
      { topic: 'why-readings', partition: 0, position: 5, lag: 120, lastLogTime: Date.now() - 5_000 },
    ],
  })
  const windowTask = task({
    subtopology: 1,
    partition: 0,
    windows: [{ openWindows: 0, nextClose: null, lateRecords: 3 }],
  })
  const texts = explain(graph, metrics([source, windowTask]), { 'why/0/0': 0.97 }).map((f) => f.text)
  assert.ok(
    texts.some((t) =>
      /^Input why-readings has 120 records not processed yet \(the last one processed was written 5(\.\d)? s ago\)/.test(
        t,
      ),
    ),
  )
  assert.ok(texts.some((t) => t.startsWith('Task 0/0 was busy 97% of the last second: it is the bottleneck')))
  assert.ok(
    texts.includes(
      '3 records reached window per-10s after their window had closed (allowed lateness 0) and went to why-late: ' +
        'they are not in its results. A larger maxOutOfOrder or allowedLateness keeps windows open longer.',
    ),
  )
  assert.ok(
    texts.some((t) => t.startsWith('2 records failed in a step and went to the dead-letter topic why-dlq')),
  )
})

test('a failed pipeline says so first; a healthy one says nothing holds it back', () => {
  assert.equal(
    explain(graph, metrics([task({ subtopology: 0, partition: 0 })], 'failed'), {})[0]!.level,
    'error',
  )
  const ok = explain(graph, metrics([task({ subtopology: 0, partition: 0 })]), {})
  assert.deepEqual(
    ok.map((f) => f.level),
    ['ok'],
  )
  assert.match(ok[0]!.text, /^Nothing holds results back/)
  const none = explain(graph, metrics([task({ subtopology: 0, partition: 0, recordsIn: 0 })]), {})
  assert.equal(none[0]!.text, 'No records have arrived yet on why-readings: there is nothing to process.')
})

test('backpressure: waiting for mapAsync results or for commits is said, under a quarter of the time it is not', () => {
  const t = task({ subtopology: 0, partition: 0 })
  const p = metrics([t])
  const texts = explain(graph, p, {}, { async: { 'why/0/0': 0.6 }, commit: 0.4 }).map((f) => f.text)
  assert.ok(
    texts.includes(
      'Task 0/0 waited 60% of the last second for mapAsync results: the service it calls is slow and holds its input back (backpressure). A higher mapAsync concurrency, or a faster service, lets it through.',
    ),
    texts.join('\n'),
  )
  assert.ok(
    texts.some((x) =>
      x.startsWith('Processing waited 40% of the last second for commits: the log is not keeping up'),
    ),
  )
  const calm = explain(graph, p, {}, { async: { 'why/0/0': 0.2 }, commit: 0.1 })
  assert.deepEqual(
    calm.map((f) => f.level),
    ['ok'],
  )
})
