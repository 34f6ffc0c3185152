/**
 * The README's example of testing a pipeline with `sluice/testing`, exactly as it shows it
 * (README.md quotes the region below; test/unit/docs/readme.test.ts runs this file).
 */
// #region test
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TestDriver } from 'sluice/testing'
import { alerts, txns, velocity } from './first-pipeline.ts'

test('21 payments of one card within 10 minutes raise velocity alerts', () => {
  const driver = new TestDriver(velocity)
  const start = Date.parse('2026-01-01T10:00:00Z')
  for (let i = 0; i < 21; i++) {
    driver.pipe(txns, { cardId: 'c1', amount: 10, at: new Date(start + i * 20_000).toISOString() })
  }
  driver.pipe(txns, { cardId: 'c2', amount: -5, at: new Date(start).toISOString() }) // filtered out
  driver.advanceWatermark(start + 60 * 60_000) // event time moves on: the windows close
  // One alert per 1-minute slide whose 10-minute window holds all 21 payments.
  assert.deepEqual(driver.values(alerts), Array(4).fill({ cardId: 'c1', count: 21 }))
  assert.deepEqual(driver.deadLetters(), []) // records that failed, with the error in headers
  assert.equal(driver.state('spend').size, 0) // a state store's entries: closed windows leave none
  // driver.advanceTime(60_000) moves processing time: idleness, processing-time timers, TTL
})
// #endregion test
