/**
 * The Nexmark benchmark's report (bench/nexmark/report.ts): with --repeat, the row is the median
 * run by CPU time, and the table shows the spread of all runs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { medianRun, type QueryResult, resultTable } from '../../../bench/nexmark/report.ts'

function run(cpuSeconds: number, seconds = cpuSeconds): QueryResult {
  return {
    query: 'q0',
    title: 'pass-through',
    codec: 'binary',
    events: 1_000_000,
    outputs: 920_000,
    seconds,
    cpuSeconds,
    peakRss: 400 * 1_048_576,
    peakHeap: 50 * 1_048_576,
    commits: 100,
  }
}

test('one run is reported as it is, with no spread', () => {
  const only = run(0.9)
  assert.deepEqual(medianRun([only]), only)
  assert.doesNotMatch(resultTable([medianRun([only])]), /lowest–highest/)
})

test('the median run by CPU time is the row, whatever order the runs came in', () => {
  const runs = [run(1.2, 0.7), run(0.8, 0.9), run(1.0, 0.6), run(2.5, 0.5), run(0.9, 1.1)]
  const median = medianRun(runs)
  assert.equal(median.cpuSeconds, 1.0)
  assert.equal(median.seconds, 0.6, 'the median run’s own wall time, not another run’s')
  assert.deepEqual(
    median.perCoreRuns,
    [400_000, 833_333.3333333334, 1_000_000, 1_111_111.111111111, 1_250_000],
  )
})

test('with an even count the slower of the middle two is the median: a spread never flatters', () => {
  assert.equal(medianRun([run(0.8), run(1.1), run(0.9), run(1.0)]).cpuSeconds, 1.0)
})

test('the table shows the median’s figure, its spread and whether the median meets the target', () => {
  const table = resultTable([medianRun([run(1.1), run(0.95), run(0.9)])])
  const row = table.split('\n').find((l) => l.startsWith('| q0'))!
  const cells = row.split('|').map((c) => c.trim())
  assert.ok(table.includes('per core, lowest–highest run'))
  assert.ok(cells.includes('1,052,632'), row)
  assert.ok(cells.includes('909,091–1,111,111 (3 runs)'), row)
  assert.equal(cells.at(-2), 'yes')
  const below = resultTable([medianRun([run(1.1), run(1.05), run(0.9)])])
  assert.equal(below.split('\n').at(-1)!.split('|').at(-2)!.trim(), 'NO')
})

test('no runs is a mistake, not a row of NaN', () => {
  assert.throws(() => medianRun([]), /at least one run/)
})
