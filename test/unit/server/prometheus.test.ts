/**
 * The Prometheus text against a known snapshot: every family of /metrics with the value its
 * input gives, and the whole text read by a strict parser (test/helpers/prometheus-text.ts) so
 * that a scrape would accept it as a client library's output.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ConnectorStatus } from '../../../src/connectors/status.ts'
import { Histogram } from '../../../src/runtime/metrics/histogram.ts'
import type { PipelineMetrics } from '../../../src/runtime/metrics/snapshot.ts'
import { renderPrometheus } from '../../../src/server/prometheus.ts'
import { parsePrometheus } from '../../helpers/prometheus-text.ts'
import { taskSnapshot } from '../../helpers/task-snapshot.ts'

const NOW = 1_800_000_000_000

function histogram(values: number[]): Histogram {
  const h = new Histogram()
  for (const v of values) h.record(v)
  return h
}

const task = taskSnapshot

// Log-time latencies 1..100 ms on task 0 and 200 ms ×10 on task 1; event time 5 s each.
const latency0 = histogram(Array.from({ length: 100 }, (_, i) => i + 1))
const latency1 = histogram(Array.from({ length: 10 }, () => 200))
const pipelines: PipelineMetrics[] = [
  {
    pipeline: 'orders "eu"',
    state: 'running',
    commits: 42,
    commitLatency: histogram([2, 2, 3, 40]).data(),
    blockedMs: 1_500,
    tasks: [
      task('orders/0/0', 0, {
        recordsIn: 1_000,
        recordsOut: 250,
        deadLetters: 3,
        busyMs: 2_000,
        blockedMs: 250,
        watermark: NOW - 60_000,
        inputs: [
          {
            channel: 'orders/0',
            watermark: NOW - 60_000,
            maxEventTime: NOW - 59_000,
            idle: false,
            quietMs: 10,
          },
        ],
        positions: [{ topic: 'orders', partition: 0, position: 1_000, lag: 500, lastLogTime: NOW - 30_000 }],
        windows: [
          { openWindows: 4, nextClose: NOW - 45_000, lateRecords: 7 },
          { openWindows: 1, nextClose: NOW - 50_000, lateRecords: 1 },
        ],
        asyncInFlight: 5,
        lateDropped: 2,
        steps: [
          { step: 'valid', kind: 'filter', recordsIn: 1_000 },
          { step: 'sink-0', kind: 'sink', recordsIn: 250 },
        ],
        stores: [{ store: 'orders.totals', entries: 12 }],
        latency: latency0.data(),
        eventLatency: histogram(Array.from({ length: 100 }, () => 5_000)).data(),
      }),
      task('orders/0/1', 1, {
        recordsIn: 10,
        inputs: [{ channel: 'orders/1', watermark: null, maxEventTime: null, idle: true, quietMs: 90_000 }],
        positions: [{ topic: 'orders', partition: 1, position: 10, lag: 0, lastLogTime: NOW - 90_000 }],
        latency: latency1.data(),
      }),
    ],
  },
]
const connectors: ConnectorStatus[] = [
  {
    name: 'to-pg',
    kind: 'sink',
    type: 'postgres',
    topic: 'orders',
    state: 'retrying',
    records: 900,
    deadLetters: 2,
    errors: 4,
    lastError: 'refused',
  },
]

test('every metric of /metrics has the value of its known input, in text a strict parser accepts', () => {
  const text = renderPrometheus(
    pipelines,
    connectors,
    { subscriptionsOpen: 3, subscriptionsDropped: 1, ingestQueuedBytes: 4096 },
    NOW,
  )
  const m = parsePrometheus(text)
  const pl = { pipeline: 'orders "eu"' }
  const t0 = { ...pl, task: 'orders/0/0' }
  const t1 = { ...pl, task: 'orders/0/1' }
  // The pipeline's name needs escaping: the parser read it back whole.
  assert.match(text, /pipeline="orders \\"eu\\""/)

  assert.equal(m.value('sluice_pipeline_up', pl), 1)
  assert.equal(m.value('sluice_commits_total', pl), 42)
  assert.equal(m.value('sluice_commit_blocked_seconds_total', pl), 1.5)
  assert.equal(m.value('sluice_commit_seconds_count', pl), 4)
  assert.ok(Math.abs(m.value('sluice_commit_seconds_sum', pl) - 0.047) < 1e-9)
  assert.equal(m.value('sluice_commit_seconds_bucket', { ...pl, le: '0.0025' }), 2)
  assert.equal(m.value('sluice_commit_seconds_bucket', { ...pl, le: '0.005' }), 3)
  assert.equal(m.value('sluice_commit_seconds_bucket', { ...pl, le: '0.05' }), 4)

  assert.equal(m.value('sluice_records_in_total', t0), 1_000)
  assert.equal(m.value('sluice_records_in_total', t1), 10)
  assert.equal(m.value('sluice_records_out_total', t0), 250)
  assert.equal(m.value('sluice_step_records_in_total', { ...t0, step: 'valid' }), 1_000)
  assert.equal(m.value('sluice_step_records_in_total', { ...t0, step: 'sink-0' }), 250)
  assert.equal(m.value('sluice_dead_letters_total', t0), 3)
  assert.equal(m.value('sluice_processing_seconds_total', t0), 2)
  assert.equal(m.value('sluice_async_blocked_seconds_total', t0), 0.25)
  // Late: 7 + 1 into windows' late outputs, 2 dropped by other steps.
  assert.equal(m.value('sluice_late_records_total', t0), 10)
  assert.equal(m.value('sluice_open_windows', t0), 5)
  assert.equal(m.value('sluice_open_windows', t1), 0)
  // The earliest of the two windows' next closes.
  assert.equal(m.value('sluice_next_window_close_seconds', t0), (NOW - 50_000) / 1000)
  assert.equal(m.all('sluice_next_window_close_seconds', t1).length, 0, 'no window open: no close time')
  assert.equal(m.value('sluice_watermark_seconds', t0), (NOW - 60_000) / 1000)
  assert.equal(m.all('sluice_watermark_seconds', t1).length, 0, 'no watermark yet')
  assert.equal(m.value('sluice_async_in_flight', t0), 5)
  assert.equal(m.value('sluice_state_entries', { ...t0, store: 'orders.totals' }), 12)

  assert.equal(m.value('sluice_input_watermark_seconds', { ...t0, input: 'orders/0' }), (NOW - 60_000) / 1000)
  assert.equal(m.value('sluice_input_idle', { ...t0, input: 'orders/0' }), 0)
  assert.equal(m.value('sluice_input_idle', { ...t1, input: 'orders/1' }), 1)

  const p0 = { ...pl, topic: 'orders', partition: '0' }
  const p1 = { ...pl, topic: 'orders', partition: '1' }
  assert.equal(m.value('sluice_input_position', p0), 1_000)
  assert.equal(m.value('sluice_consumer_lag_records', p0), 500)
  assert.equal(m.value('sluice_consumer_lag_records', p1), 0)
  // Behind: the last record processed was written 30 s ago and 500 wait after it.
  assert.equal(m.value('sluice_consumer_lag_seconds', p0), 30)
  assert.equal(m.value('sluice_consumer_lag_seconds', p1), 0, 'caught up: 0 however long ago')

  // Latency: the tasks' histograms merged per pipeline.
  const log = { ...pl, kind: 'append' }
  assert.equal(m.value('sluice_latency_seconds_count', log), 110)
  assert.ok(Math.abs(m.value('sluice_latency_seconds_sum', log) - (5_050 + 2_000) / 1000) < 1e-9)
  assert.equal(m.value('sluice_latency_seconds_bucket', { ...log, le: '0.1' }), 100)
  assert.equal(m.value('sluice_latency_seconds_bucket', { ...log, le: '0.25' }), 110)
  assert.equal(m.value('sluice_latency_seconds_count', { ...pl, kind: 'event' }), 100)
  const merged = histogram([...Array.from({ length: 100 }, (_, i) => i + 1), ...Array(10).fill(200)])
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const got = m.value('sluice_latency_percentile_seconds', { ...log, quantile: String(q) })
    assert.equal(got, merged.percentile(q) / 1000)
  }
  // p50 of 1..100 ms and 10 × 200 ms is 55 ms, p99 is 200 ms: within 1/16 above.
  const p50 = m.value('sluice_latency_percentile_seconds', { ...log, quantile: '0.5' })
  assert.ok(p50 >= 0.055 && p50 <= 0.055 * (1 + 1 / 16), `p50 ${p50}`)
  assert.equal(m.value('sluice_latency_percentile_seconds', { ...log, quantile: '0.99' }), 0.2)
  assert.equal(m.value('sluice_latency_percentile_seconds', { ...pl, kind: 'event', quantile: '0.999' }), 5)

  const cl = { connector: 'to-pg', kind: 'sink', type: 'postgres', topic: 'orders' }
  assert.equal(m.value('sluice_connector_up', cl), 0)
  assert.equal(m.value('sluice_connector_records_total', cl), 900)
  assert.equal(m.value('sluice_connector_dead_letters_total', cl), 2)
  assert.equal(m.value('sluice_connector_errors_total', cl), 4)
  assert.equal(m.value('sluice_subscriptions_open'), 3)
  assert.equal(m.value('sluice_subscriptions_dropped_total'), 1)
  assert.equal(m.value('sluice_ingest_queued_bytes'), 4096)

  // Every family is asserted above: a new one must get a test here.
  assert.deepEqual([...m.types.keys()].sort(), [
    'sluice_async_blocked_seconds_total',
    'sluice_async_in_flight',
    'sluice_commit_blocked_seconds_total',
    'sluice_commit_seconds',
    'sluice_commits_total',
    'sluice_connector_dead_letters_total',
    'sluice_connector_errors_total',
    'sluice_connector_records_total',
    'sluice_connector_up',
    'sluice_consumer_lag_records',
    'sluice_consumer_lag_seconds',
    'sluice_dead_letters_total',
    'sluice_ingest_queued_bytes',
    'sluice_input_idle',
    'sluice_input_position',
    'sluice_input_watermark_seconds',
    'sluice_late_records_total',
    'sluice_latency_percentile_seconds',
    'sluice_latency_seconds',
    'sluice_next_window_close_seconds',
    'sluice_open_windows',
    'sluice_pipeline_up',
    'sluice_processing_seconds_total',
    'sluice_records_in_total',
    'sluice_records_out_total',
    'sluice_state_entries',
    'sluice_step_records_in_total',
    'sluice_subscriptions_dropped_total',
    'sluice_subscriptions_open',
    'sluice_watermark_seconds',
  ])
})

test('a stopped pipeline reads 0 up, and one without measurements leaves its histograms out', () => {
  const m = parsePrometheus(
    renderPrometheus(
      [{ pipeline: 'idle', state: 'failed', commits: 0, tasks: [task('idle/0/0', 0, {})] }],
      [],
      { subscriptionsOpen: 0, subscriptionsDropped: 0, ingestQueuedBytes: 0 },
      NOW,
    ),
  )
  assert.equal(m.value('sluice_pipeline_up', { pipeline: 'idle' }), 0)
  assert.equal(m.all('sluice_latency_seconds_count').length, 0)
  assert.equal(m.all('sluice_latency_percentile_seconds').length, 0)
  assert.equal(m.all('sluice_commit_seconds_count').length, 0)
})

test('the strict parser refuses what Prometheus would', () => {
  const bad = [
    'x 1\n',
    '# TYPE x_total counter\nx_total 1\n# TYPE y gauge\ny 1\nx_total{a="b"} 2\n',
    '# TYPE x counter\nx 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE g gauge\ng{a="x\\q"} 1\n',
    '# TYPE g gauge\ng 1\ng 2\n',
  ]
  for (const text of bad) assert.throws(() => parsePrometheus(text), Error, text)
})
