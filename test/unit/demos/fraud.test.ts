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

const EVENTS = 5_000

test('fraud rules find the injected cases: recall ≥ 0.95, precision ≥ 0.9 (seed 1, 5,000 transactions)', (t) => {
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

test('the generator: households share a device between two cards, a ring pays with 4–6 cards from a device of its own', () => {
  const g = new FraudGenerator({ seed: 3 })
  const txs = Array.from({ length: 6_000 }, () => g.next())
  const cardsOf = new Map<string, Set<string>>()
  for (const tx of txs) {
    const cards = cardsOf.get(tx.device) ?? new Set<string>()
    cards.add(tx.cardId)
    cardsOf.set(tx.device, cards)
  }
  const delivered = new Set(txs.map((tx) => tx.id))
  // The last ring may still have payments to come.
  const rings = g.cases.filter((c) => c.kind === 'fraud-ring' && c.txIds.every((id) => delivered.has(id)))
  assert.ok(rings.length >= 5, `expected rings in 6,000 transactions, got ${rings.length}`)
  const ringDevices = new Set<string>()
  for (const ring of rings) {
    const ringTxs = txs.filter((tx) => ring.txIds.includes(tx.id))
    const devices = new Set(ringTxs.map((tx) => tx.device))
    assert.equal(devices.size, 1, `ring ${ring.txIds[0]} pays from one device`)
    const [device] = devices
    ringDevices.add(device!)
    assert.deepEqual(
      [...cardsOf.get(device!)!].sort(),
      [...ring.cards].sort(),
      'the device is the ring’s alone',
    )
    assert.ok(ring.cards.length >= 4 && ring.cards.length <= 6, `${ring.cards.length} cards`)
    assert.ok(ring.end - ring.start <= 20 * 60_000)
  }
  const shared = [...cardsOf].filter(([device, cards]) => !ringDevices.has(device) && cards.size > 1)
  assert.ok(shared.length >= 5, `expected households sharing a device, got ${shared.length}`)
  for (const [device, cards] of shared) assert.equal(cards.size, 2, `${device}: ${[...cards].join(', ')}`)
})

test('fraud-ring: three cards on one device within the hour raise one alert; a household of two, or cards an hour apart, none', () => {
  const driver = new TestDriver(fraudPipeline('fraud-rings'), { partitions: 2 })
  const t0 = Date.parse('2026-03-01T10:00:00Z')
  let n = 0
  const pay = (cardId: string, device: string, minutes: number) => {
    const tx = {
      id: `tx-${++n}`,
      cardId,
      merchant: 'blue-online-1',
      country: 'DE',
      amount: 30,
      device,
      at: new Date(t0 + minutes * 60_000).toISOString(),
      status: 'approved' as const,
    }
    driver.pipe(transactions, tx, { key: cardId })
  }
  // A household: two cards, one phone, all day.
  for (let m = 0; m < 300; m += 20) pay(m % 40 === 0 ? 'card-a' : 'card-b', 'dev-home', m)
  // A ring: four stolen cards within 12 minutes, then a fifth (no second alert for the same ring).
  pay('card-c', 'dev-x', 0)
  pay('card-d', 'dev-x', 4)
  pay('card-c', 'dev-x', 6)
  pay('card-e', 'dev-x', 9)
  pay('card-f', 'dev-x', 12)
  pay('card-g', 'dev-x', 30)
  // Three cards, but each more than an hour after the last: not together.
  pay('card-h', 'dev-y', 0)
  pay('card-i', 'dev-y', 61)
  pay('card-j', 'dev-y', 122)
  driver.advanceWatermark(t0 + 6 * 60 * 60_000)
  const rings = driver.values(alerts).filter((a) => a.rule === 'fraud-ring')
  assert.equal(rings.length, 1, JSON.stringify(rings, null, 1))
  assert.equal(rings[0]!.card, 'card-e')
  assert.deepEqual(rings[0]!.txIds, ['tx-16', 'tx-18', 'tx-17', 'tx-19'])
  assert.match(rings[0]!.detail, /3 cards paid from device dev-x within the hour: card-c, card-d, card-e/)
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
        ['amount-spike', 'declined-approved', 'fraud-ring', 'impossible-travel', 'velocity'],
      )
    } finally {
      await db.end()
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin.end()
  }
})
