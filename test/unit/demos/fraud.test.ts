/**
 * The fraud demo scored on a fixed seed: the generator's injected cases against the alerts of
 * the pipeline (through the TestDriver, event time from the data), then `sluice demo fraud`
 * end to end on the embedded log with the HTTP server on a free port.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { TestDriver } from 'sluice/testing'
import { FraudGenerator } from '../../../examples/fraud/generator.ts'
import { alerts, fraudPipeline, transactions } from '../../../examples/fraud/pipeline.ts'
import { formatScore, score } from '../../../examples/fraud/score.ts'
import { scoreLine, servedUrl, sluice } from '../../helpers/demo-cli.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

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

test('sluice demo fraud --events 3000 --port 0 --seed 1 exits 0 and prints the score', async () => {
  const { done, stderr } = sluice(['demo', 'fraud', '--events', '3000', '--port', '0', '--seed', '1'])
  const { code, stdout } = await done
  assert.equal(code, 0, stderr())
  const [precision, recall] = scoreLine(stdout)
  assert.ok(recall >= 0.95 && precision >= 0.9, stdout)
  assert.match(stdout, /^fraud demo: 3,000 transactions, \d+ injected cases/m)
  assert.match(stderr(), /serving http:\/\/127\.0\.0\.1:\d+/)
})

test('sluice demo fraud serves the dashboard API while it runs, and scores on Ctrl-C', async () => {
  const dir = tempDir()
  const { child, done, stderr } = sluice([
    'demo',
    'fraud',
    '--rate',
    '1000',
    '--port',
    '0',
    '--data-dir',
    dir,
  ])
  const url = await servedUrl({ child, done, stderr })
  const pipelines = await (await fetch(`${url}/api/pipelines`)).text()
  assert.match(pipelines, /fraud-detection/)
  // Three seconds at 1,000/s: about 50 minutes of event time, enough for decided cases.
  await new Promise((r) => setTimeout(r, 3_000))
  child.kill('SIGINT')
  const { code, stdout } = await done
  assert.equal(code, 0, stderr())
  const [precision, recall] = scoreLine(stdout)
  assert.ok(recall >= 0.95 && precision >= 0.9, stdout)
  assert.match(stderr(), /SIGINT: stopping the feed/)
})

test('sluice demo with an unknown demo name is a usage error', async () => {
  const run = sluice(['demo', 'iot-nope', '--port', '0'])
  const { code } = await run.done
  const stderr = run.stderr
  assert.equal(code, 2)
  assert.match(stderr(), /unknown demo "iot-nope"/)
})

test('sluice demo fraud --postgres writes every alert to the fraud_alerts table', async () => {
  const database = `sluice_demo_fraud_${process.pid}`
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${database}`)
  await admin.query(`CREATE DATABASE ${database}`)
  try {
    const url = `postgres://postgres@127.0.0.1:5432/${database}`
    const run = sluice(['demo', 'fraud', '--events', '3000', '--port', '0', '--postgres', url])
    const { code, stdout } = await run.done
    assert.equal(code, 0, run.stderr())
    const alerts = Number(/, (\d+) alerts$/m.exec(stdout)?.[1])
    assert.ok(alerts > 0, stdout)
    const db = new pg.Client({ connectionString: url })
    await db.connect()
    try {
      const { rows } = await db.query(
        'SELECT rule, count(*)::int AS n FROM fraud_alerts GROUP BY rule ORDER BY rule',
      )
      assert.equal(
        rows.reduce((n, r: { n: number }) => n + r.n, 0),
        alerts,
        `rows by rule: ${JSON.stringify(rows)}`,
      )
      assert.deepEqual(
        rows.map((r: { rule: string }) => r.rule),
        ['amount-spike', 'declined-approved', 'impossible-travel', 'velocity'],
      )
    } finally {
      await db.end()
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin.end()
  }
})
