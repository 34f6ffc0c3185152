/**
 * The tutorial's steps (examples/tutorial/step-N.ts) on the TestDriver, with hand-made
 * payments: each test asserts what docs/tutorial.md says the step does. The last test is the
 * one the tutorial quotes (region `test`).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { TestDriver } from 'sluice/testing'
import step1, { checked, type Payment, payments } from '../../../examples/tutorial/step-1.ts'
import step2, { type Alert, alerts } from '../../../examples/tutorial/step-2.ts'
import step3 from '../../../examples/tutorial/step-3.ts'
import step4 from '../../../examples/tutorial/step-4.ts'
import step5 from '../../../examples/tutorial/step-5.ts'
import { fraudRules } from '../../../examples/tutorial/step-6.ts'

const at = (time: string) => `2026-03-02T${time}Z`
const ms = (time: string) => Date.parse(at(time))

function pay(
  id: string,
  cardId: string,
  amount: number,
  time: string,
  status: Payment['status'] = 'approved',
): Payment {
  return { id, cardId, amount, country: 'DE', status, at: at(time) }
}

const rules = (list: Alert[]) => list.map((a) => `${a.card} ${a.rule}`).sort()

test('step 1: valid payments pass, a schema violation and bad JSON become dead letters', () => {
  const d = new TestDriver(step1)
  d.pipe(payments, pay('p1', 'card-1', 12, '10:00:00'))
  d.pipeRaw('payments', Buffer.from(JSON.stringify(pay('p2', 'card-1', -3, '10:00:05'))))
  d.pipeRaw('payments', Buffer.from('{"id": "p3",'))
  assert.deepEqual(d.values(checked), [pay('p1', 'card-1', 12, '10:00:00')])
  const dead = d.deadLetters()
  assert.equal(dead.length, 2)
  assert.equal(
    dead[0]!.headers['sluice-error'],
    'step "source payments" failed: schema validation failed: amount: Too small: expected number to be >0',
  )
  assert.equal(dead[0]!.headers['sluice-source-offset'], '1')
  assert.match(dead[1]!.headers['sluice-error']!, /value could not be decoded/)
  assert.equal(d.topology.deadLetterTopic, 'tutorial-1-dlq')
})

test('step 2: an approved payment of 5,000 or more raises a large-payment alert', () => {
  const d = new TestDriver(step2)
  d.pipe(payments, pay('p1', 'card-1', 4_999, '10:00:00'))
  d.pipe(payments, pay('p2', 'card-1', 5_000, '10:01:00', 'declined'))
  d.pipe(payments, pay('p3', 'card-2', 7_500, '10:02:00'))
  assert.deepEqual(d.values(alerts), [
    {
      card: 'card-2',
      rule: 'large-payment',
      paymentIds: ['p3'],
      at: at('10:02:00'),
      detail: '7500 in one payment',
    },
  ])
})

test('step 3: five payments within 3 minutes raise one velocity alert, once event time has passed the window', () => {
  const d = new TestDriver(step3)
  for (const [i, time] of ['10:00:00', '10:00:10', '10:00:20', '10:00:30', '10:00:40'].entries()) {
    d.pipe(payments, pay(`v${i}`, 'card-1', 20, time))
  }
  d.pipe(payments, pay('w0', 'card-2', 20, '10:00:00'))
  d.pipe(payments, pay('w1', 'card-2', 20, '10:00:35'))
  // The watermark is 10:00:30 (newest 10:00:40 minus maxOutOfOrder 10 s): no window has closed.
  assert.deepEqual(d.values(alerts), [])
  d.advanceWatermark(ms('10:01:00'))
  // The first window holding all five, [09:58:00, 10:01:00), has closed: one alert. Four
  // later windows hold all five too; dedupe drops their alerts.
  assert.deepEqual(d.values(alerts), [
    {
      card: 'card-1',
      rule: 'velocity',
      paymentIds: ['v0', 'v1', 'v2', 'v3', 'v4'],
      at: '2026-03-02T10:00:59.999Z',
      detail: '5 payments between 2026-03-02T09:58:00.000Z and 2026-03-02T10:01:00.000Z',
    },
  ])
  d.advanceWatermark(ms('11:00:00'))
  assert.deepEqual(rules(d.values(alerts)), ['card-1 velocity'])
})

test('step 4: three declines then an approval match in event-time order; events later than maxOutOfOrder are dropped', () => {
  const match = (order: Payment[]) => {
    const d = new TestDriver(step4)
    for (const t of order) d.pipe(payments, t)
    const before = d.values(alerts).length
    d.advanceWatermark(ms('11:00:00'))
    return { before, after: d.values(alerts) }
  }
  const d1 = pay('d1', 'card-1', 60, '10:00:00', 'declined')
  const d2 = pay('d2', 'card-1', 60, '10:00:40', 'declined')
  const d3 = pay('d3', 'card-1', 60, '10:01:20', 'declined')
  const a1 = pay('a1', 'card-1', 60, '10:02:00')
  const inOrder = match([d1, d2, d3, a1])
  // Events wait for the watermark (10:01:50 after a1) before the matcher sees them.
  assert.equal(inOrder.before, 0)
  assert.deepEqual(inOrder.after, [
    {
      card: 'card-1',
      rule: 'declined-approved',
      paymentIds: ['d1', 'd2', 'd3', 'a1'],
      at: '2026-03-02T10:02:00.000Z',
      detail: '3 declines, then approved 120 s after the first',
    },
  ])
  // Shuffled by less than maxOutOfOrder (10 s): the same match.
  const close = ['10:00:00', '10:00:04', '10:00:08', '10:00:12'].map((time, i) =>
    pay(`q${i}`, 'card-2', 60, time, i < 3 ? 'declined' : 'approved'),
  )
  const shuffled = match([close[1]!, close[0]!, close[3]!, close[2]!])
  assert.deepEqual(
    shuffled.after.map((a) => a.paymentIds),
    [['q0', 'q1', 'q2', 'q3']],
  )
  // The approval first, the declines 40 s or more behind it: they are late, dropped, no match.
  assert.deepEqual(match([a1, d3, d1, d2]).after, [])
  // Two declines, or three spread over more than 10 minutes: no match.
  assert.deepEqual(match([d1, d2, a1]).after, [])
  const slow = [
    pay('s1', 'card-3', 60, '10:00:00', 'declined'),
    pay('s2', 'card-3', 60, '10:03:00', 'declined'),
    pay('s3', 'card-3', 60, '10:06:00', 'declined'),
    pay('s4', 'card-3', 60, '10:11:00'),
  ]
  assert.deepEqual(match(slow).after, [])
})

test('step 5: a payment 8× the card mean raises an alert after 5 payments; state holds the profile', () => {
  const d = new TestDriver(step5)
  const amounts = [20, 30, 25, 15, 10]
  for (const [i, amount] of amounts.entries()) d.pipe(payments, pay(`p${i}`, 'card-1', amount, `10:0${i}:00`))
  d.pipe(payments, pay('x', 'card-1', 900, '10:05:00', 'declined'))
  d.pipe(payments, pay('big', 'card-1', 160, '10:06:00'))
  assert.deepEqual(d.values(alerts), [
    {
      card: 'card-1',
      rule: 'amount-spike',
      paymentIds: ['big'],
      at: at('10:06:00'),
      detail: "160 is 8.0× the card's mean of 20.00",
    },
  ])
  const profile = d.store('amount-profile').get('card-1') as { n: number; mean: number }
  assert.equal(profile.n, 6)
  assert.ok(Math.abs(profile.mean - 260 / 6) < 1e-9, `mean ${profile.mean}`)
  // 90 days without a payment (processing time): the profile is gone.
  d.advanceTime(90 * 24 * 60 * 60_000)
  assert.equal(d.store('amount-profile').get('card-1'), undefined)
})

// #region test
test('the fraud rules on the sample payments: two alerts at once, two when event time moves on', () => {
  const driver = new TestDriver(fraudRules(), { partitions: 4 })
  const file = new URL('../../../examples/tutorial/payments.ndjson', import.meta.url)
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const payment = JSON.parse(line) as Payment
    driver.pipe(payments, payment, { key: payment.cardId })
  }
  const rules = () => driver.values(alerts).map((a) => `${a.card} ${a.rule}`)
  // Stateless and per-record rules answer at once.
  assert.deepEqual(rules().sort(), ['card-ada amount-spike', 'card-dee large-payment'])
  // The window and the pattern wait for the watermark, the minimum over the input partitions:
  // partition 0 had no payment at all, so it holds event time back until it is idle (30 s).
  driver.advanceTime(30_000)
  assert.deepEqual(rules().sort(), [
    'card-ada amount-spike',
    'card-bob declined-approved',
    'card-cy velocity',
    'card-dee large-payment',
  ])
  assert.equal(driver.deadLetters().length, 0)
})
// #endregion test
