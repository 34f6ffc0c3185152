/**
 * The fraud demo scored on a fixed seed: the generator's injected cases against the alerts of
 * the pipeline (through the TestDriver, event time from the data), then `sluice demo fraud`
 * end to end on the embedded log with the HTTP server on a free port.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TestDriver } from 'sluice/testing'
import { FraudGenerator } from '../../../examples/fraud/generator.ts'
import { alerts, fraudPipeline, transactions } from '../../../examples/fraud/pipeline.ts'
import { formatScore, score } from '../../../examples/fraud/score.ts'

const EVENTS = 4_000

test('fraud rules find the injected cases: recall ≥ 0.95, precision ≥ 0.9 (seed 1, 4,000 transactions)', (t) => {
  const generator = new FraudGenerator({ seed: 1 })
  const driver = new TestDriver(fraudPipeline('fraud-scored'), { partitions: 2 })
  for (let i = 0; i < EVENTS; i++) {
    const tx = generator.next()
    driver.pipe(transactions, tx, { key: tx.cardId })
  }
  const until = generator.clock
  driver.advanceWatermark(until + 2 * 60 * 60_000)
  const s = score(driver.values(alerts), generator.cases, until)
  const lines = formatScore(s)
  assert.ok(s.cases >= 20, `expected at least 20 decided cases, got ${s.cases}`)
  for (const rule of Object.values(s.byRule)) assert.ok(rule.cases >= 4, lines.join('\n'))
  assert.ok(s.recall >= 0.95, lines.join('\n'))
  assert.ok(s.precision >= 0.9, lines.join('\n'))
  for (const line of lines) t.diagnostic(line)
})

test('the generator is deterministic per seed and delivers some transactions late', () => {
  const take = (seed: number) => {
    const g = new FraudGenerator({ seed })
    return Array.from({ length: 1_000 }, () => g.next())
  }
  const a = take(7)
  assert.deepEqual(take(7), a)
  assert.notDeepEqual(take(8), a)
  let newest = 0
  let late = 0
  for (const tx of a) {
    const at = Date.parse(tx.at)
    if (at < newest) late++
    newest = Math.max(newest, at)
  }
  assert.ok(late > 10 && late < 150, `expected a few late deliveries in 1,000, got ${late}`)
  assert.equal(new Set(a.map((tx) => tx.id)).size, a.length, 'transaction ids are unique')
})
