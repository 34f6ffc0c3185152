/**
 * `sluice status`'s tables against two known samples of /api/metrics one second apart: every
 * figure /metrics has is in a table, with its value, and rates come from the difference.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ApiMetrics } from '../../src/cli/commands/status-render.ts'
import { renderStatus } from '../../src/cli/commands/status-render.ts'
import { Histogram } from '../../src/runtime/metrics/histogram.ts'
import type { TaskMetricsSnapshot } from '../../src/runtime/metrics/snapshot.ts'
import { taskSnapshot } from '../helpers/task-snapshot.ts'

const AT = Date.parse('2026-11-24T12:00:00.000Z')
const empty = new Histogram().data()
const summary = (p50: number, p99: number) => ({
  count: 10,
  p50,
  p90: p50 * 2,
  p99,
  p999: p99 * 2,
  max: p99 * 3,
})

function sample(at: number, n: number): ApiMetrics {
  const task = (partition: number, over: Partial<TaskMetricsSnapshot>) =>
    taskSnapshot(`orders/0/${partition}`, partition, { latency: empty, eventLatency: empty, ...over })
  return {
    at,
    pipelines: [
      {
        pipeline: 'orders',
        state: 'running',
        commits: 10 + n,
        blockedMs: 1_250,
        latency: summary(4, 12),
        eventLatency: summary(900, 1_500),
        commitDuration: summary(1.5, 7),
        tasks: [
          task(0, {
            // 400 more records in the second sample, 2 ms more busy: 5 µs per record.
            recordsIn: 1_000 + 400 * n,
            recordsOut: 100 + 40 * n,
            busyMs: 10 + 2 * n,
            blockedMs: 3_000,
            deadLetters: 2,
            watermark: AT - 5_000,
            inputs: [
              {
                channel: 'orders/0',
                watermark: AT - 5_000,
                maxEventTime: AT - 4_000,
                idle: false,
                quietMs: 120,
              },
            ],
            positions: [
              { topic: 'orders', partition: 0, position: 1_000 + 400 * n, lag: 30, lastLogTime: AT - 2_500 },
            ],
            windows: [{ openWindows: 3, nextClose: AT - 4_000, lateRecords: 4 }],
            lateDropped: 1,
            stores: [{ store: 'orders.totals', entries: 77 }],
            asyncInFlight: 6,
          }),
          task(1, {
            inputs: [
              { channel: 'orders/1', watermark: null, maxEventTime: null, idle: true, quietMs: 45_000 },
            ],
            positions: [{ topic: 'orders', partition: 1, position: 0, lag: 0, lastLogTime: null }],
          }),
        ],
      },
    ],
    connectors: [
      {
        name: 'pg',
        kind: 'sink',
        type: 'postgres',
        topic: 'orders',
        state: 'running',
        records: 5,
        deadLetters: 0,
        errors: 1,
        lastError: 'connection reset',
      },
    ],
  }
}

/** The tables as rows of cells, each table by the first two words of its header. */
function tables(text: string): Map<string, Array<Record<string, string>>> {
  const out = new Map<string, Array<Record<string, string>>>()
  for (const block of text.trimEnd().split('\n\n')) {
    const [header, ...rows] = block.split('\n')
    // Columns start where the header has a name after two spaces: cut every row there.
    const starts = [0, ...[...header!.matchAll(/ {2,}(?=\S)/g)].map((m) => m.index! + m[0].length)]
    const cut = (line: string) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim())
    const names = cut(header!)
    out.set(
      names.slice(0, 2).join(' '),
      rows.map((r) => Object.fromEntries(cut(r).map((v, i) => [names[i], v]))),
    )
  }
  return out
}

test('status: every figure in a table, rates over the interval', () => {
  const t = tables(renderStatus(sample(AT - 1_000, 0), sample(AT, 1)))
  assert.deepEqual(
    [...t.keys()],
    ['pipeline state', 'pipeline latency', 'pipeline commits', 'task in', 'task input', 'connector kind'],
  )
  assert.deepEqual(t.get('pipeline state'), [
    {
      pipeline: 'orders',
      state: 'running',
      tasks: '2',
      in: '1,400',
      out: '140',
      'in/s': '400',
      'out/s': '40',
      lag: '30',
      // 30 records wait behind one written 2.5 s ago.
      'lag s': '2.50',
      watermark: '11:59:55.000Z',
      'open windows': '3',
      late: '5',
      'dead letters': '2',
    },
  ])
  assert.deepEqual(t.get('pipeline latency'), [
    {
      pipeline: 'orders',
      latency: 'append time',
      measured: '10',
      'p50 ms': '4.00',
      'p90 ms': '8.00',
      'p99 ms': '12.0',
      'p99.9 ms': '24.0',
      'max ms': '36.0',
    },
    {
      pipeline: 'orders',
      latency: 'event time',
      measured: '10',
      'p50 ms': '900.0',
      'p90 ms': '1,800',
      'p99 ms': '1,500',
      'p99.9 ms': '3,000',
      'max ms': '4,500',
    },
  ])
  assert.deepEqual(t.get('pipeline commits'), [
    {
      pipeline: 'orders',
      commits: '11',
      'commits/s': '1.0',
      'p50 ms': '1.50',
      'p99 ms': '7.00',
      'blocked s': '1.25',
    },
  ])
  const [t0, t1] = t.get('task in')!
  assert.deepEqual(t0, {
    task: 'orders/0/0',
    in: '1,400',
    out: '140',
    'in/s': '400',
    'µs/record': '5.0',
    lag: '30',
    watermark: '11:59:55.000Z',
    'open windows': '3',
    'next close': '11:59:56.000Z',
    late: '5',
    'dead letters': '2',
    'state entries': '77',
    'async in flight': '6',
    'async blocked s': '3.00',
  })
  assert.equal(t1!.watermark, 'none yet')
  assert.equal(t1!['µs/record'], '-')
  assert.deepEqual(t.get('task input'), [
    {
      task: 'orders/0/0',
      input: 'orders/0',
      watermark: '11:59:55.000Z',
      'newest event': '11:59:56.000Z',
      idle: 'no',
      'quiet s': '0.12',
    },
    {
      task: 'orders/0/1',
      input: 'orders/1',
      watermark: 'none yet',
      'newest event': '-',
      idle: 'idle',
      'quiet s': '45',
    },
  ])
  assert.equal(t.get('connector kind')![0]!['last error'], 'connection reset')
})

test('status with --interval 0: no rates; a watermark of another day is shown with its date', () => {
  const one = sample(AT, 0)
  one.pipelines[0]!.tasks[0]!.watermark = AT - 2 * 86_400_000
  const t = tables(renderStatus(one, null))
  const [row] = t.get('pipeline state')!
  assert.equal(row!['in/s'], '-')
  assert.equal(row!['out/s'], '-')
  assert.equal(row!.watermark, '2026-11-22T12:00:00.000Z')
  assert.equal(t.get('pipeline commits')![0]!['commits/s'], '-')
  // Since start without a second sample: 10 ms over 1,000 records.
  assert.equal(t.get('task in')![0]!['µs/record'], '10.0')
})
