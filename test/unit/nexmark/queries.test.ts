/**
 * Every Nexmark query of bench/nexmark, run through Sluice on the TestDriver, against its
 * plain-loop reference implementation on the same generated events: the results must be
 * equal exactly (as multisets; the last row per key for the queries that update a result per
 * key). The events are out of order within groups of 37 (the generator's
 * `outOfOrderGroupSize`), and the sources' watermark bound covers exactly that, so no record
 * may be late. At the end the watermark is moved past everything: every window and auction
 * closes, as the reference assumes. Then once more on two partitions, events spread by key, and
 * once through the binary codec (bench/nexmark/schema.ts).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TestDriver } from 'sluice/testing'
import { generateEvents, generatorConfig } from '../../../bench/nexmark/generator.ts'
import type { Event } from '../../../bench/nexmark/model.ts'
import { type Format, queryContext } from '../../../bench/nexmark/queries/common.ts'
import { canonical, QUERIES, type QuerySpec } from '../../../bench/nexmark/suite.ts'

// 500 events/s of event time: 20,000 events span 40 s, so 10 s windows close several times
// and auctions (about 100 open at once) last seconds, not milliseconds.
const config = generatorConfig({ firstEventRate: 500, outOfOrderGroupSize: 37, seed: 7 })
const events = generateEvents(20_000, config)
const PROCESSING_TIME_WINDOWS_MS = 10_000
// NEXMARK_QUERIES=q12,q15 runs only those (while writing a query); all of them by default.
const only = process.env['NEXMARK_QUERIES']?.split(',')
const selected = QUERIES.filter((q) => only === undefined || only.includes(q.id))

function check(q: QuerySpec, all: readonly Event[], partitions: number, format: Format = 'json'): void {
  const ctx = queryContext(q.id, config, { suffix: `-p${partitions}`, format })
  const { pipeline, output } = q.build(ctx)
  const driver = new TestDriver(pipeline, { partitions })
  all.forEach((e, i) => {
    driver.pipe(ctx.events, e, partitions > 1 ? { key: String(i) } : {})
  })
  driver.advanceWatermark(Number.MAX_SAFE_INTEGER)
  // Processing-time windows (q12) close when the virtual clock passes their end; every event
  // was processed at time 0.
  driver.advanceTime(PROCESSING_TIME_WINDOWS_MS)
  assert.deepEqual(driver.deadLetters(), [], `${q.id}: dead letters`)
  assert.equal(driver.lateRecords(), 0, `${q.id}: late records`)
  const want = canonical(JSON.parse(JSON.stringify(q.reference(all, config))) as unknown[], q.compare)
  assert.ok(
    want.length > 0,
    `${q.id}: the reference has no results for these events: the check would prove nothing`,
  )
  const got = canonical(driver.values(output), q.compare)
  assert.equal(got.length, want.length, `${q.id}: ${got.length} results, the reference has ${want.length}`)
  assert.deepEqual(got, want, `${q.id}: results differ from the reference`)
}

for (const q of selected) {
  test(`${q.id} (${q.title}) equals its reference: 20,000 events, one partition`, () => {
    check(q, events, 1)
  })
}

for (const q of selected) {
  test(`${q.id} (${q.title}) equals its reference: 20,000 events over two partitions`, () => {
    check(q, events, 2)
  })
}

// The same events through the binary codec (bench/nexmark/schema.ts): what the benchmark's
// `--codec binary` runs. q0–q2 write binary outputs too.
for (const q of selected) {
  test(`${q.id} (${q.title}) equals its reference: 20,000 binary events, one partition`, () => {
    check(q, events, 1, 'binary')
  })
}
