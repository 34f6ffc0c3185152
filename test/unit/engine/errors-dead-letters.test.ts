/**
 * Failures through the TestDriver: a record that cannot be decoded, fails its schema, or makes
 * a step throw goes to the dead-letter topic with its original bytes and headers saying what
 * failed, where and why. Its partial outputs are dropped, and the records after it are still
 * processed. Expected values are written out by hand.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Keyed, pipeline, type StandardSchemaV1, topic, tumbling, type Windowed } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Payment {
  id: string
  amount: number
}

const bytes = (s: string) => Buffer.from(s)

test('malformed JSON: dead letter with the original bytes; the next record is processed', () => {
  const payments = topic<Payment>('er-json-in')
  const out = topic<string>('er-json-out')
  const p = pipeline('er-json')
  p.from(payments)
    .map((x) => x.id)
    .to(out)
  const d = new TestDriver(p)
  d.pipeRaw('er-json-in', bytes('{"id": "p1", "amou'), { key: bytes('k1'), timestamp: 5 })
  d.pipe(payments, { id: 'p2', amount: 3 }, { key: 'k2' })
  const [dl, ...more] = d.deadLetters()
  assert.equal(more.length, 0)
  assert.ok(dl)
  // The record as it was read: key k1, the broken bytes.
  assert.equal(dl.key, 'k1')
  assert.equal(dl.value, '{"id": "p1", "amou')
  assert.equal(dl.headers['sluice-operator'], 'source er-json-in')
  assert.match(dl.headers['sluice-error']!, /^step "source er-json-in" failed: value could not be decoded: /)
  assert.equal(dl.headers['sluice-source-topic'], 'er-json-in')
  assert.equal(dl.headers['sluice-source-partition'], '0')
  assert.equal(dl.headers['sluice-source-offset'], '0')
  assert.equal(dl.headers['sluice-pipeline'], 'er-json')
  // The poison record blocked nothing: p2 (offset 1) went through.
  assert.deepEqual(d.values(out), ['p2'])
})

test('a Standard Schema failure dead-letters the record; valid records flow as the schema outputs them', () => {
  // A hand-made Standard Schema v1: accepts { id: string, amount: number | numeric string }
  // and outputs amount as a number.
  const PaymentSchema: StandardSchemaV1<unknown, Payment> = {
    '~standard': {
      version: 1,
      vendor: 'hand-made',
      validate(value) {
        const v = value as { id?: unknown; amount?: unknown }
        const issues: Array<{ message: string; path: string[] }> = []
        if (typeof v.id !== 'string') issues.push({ message: 'Expected string', path: ['id'] })
        const amount = typeof v.amount === 'string' ? Number(v.amount) : v.amount
        if (typeof amount !== 'number' || Number.isNaN(amount))
          issues.push({ message: 'Expected number', path: ['amount'] })
        if (issues.length > 0) return { issues }
        return { value: { id: v.id as string, amount: amount as number } }
      },
    },
  }
  const payments = topic('er-schema-in', { schema: PaymentSchema })
  const out = topic<number>('er-schema-out')
  const p = pipeline('er-schema')
  p.from(payments)
    .map((x) => x.amount * 2)
    .to(out)
  const d = new TestDriver(p)
  d.pipeRaw('er-schema-in', bytes('{"id":"p1","amount":"21"}'))
  d.pipeRaw('er-schema-in', bytes('{"id":7,"amount":"lots"}'), { key: bytes('bad') })
  d.pipeRaw('er-schema-in', bytes('{"id":"p3","amount":5}'))
  // "21" became 21 (the schema's output), doubled: 42. The bad record is skipped; p3: 10.
  assert.deepEqual(d.values(out), [42, 10])
  const dls = d.deadLetters()
  assert.equal(dls.length, 1)
  assert.equal(dls[0]!.key, 'bad')
  assert.equal(dls[0]!.value, '{"id":7,"amount":"lots"}')
  assert.equal(dls[0]!.headers['sluice-operator'], 'source er-schema-in')
  // Both issues, with their paths, in one line.
  assert.equal(
    dls[0]!.headers['sluice-error'],
    'step "source er-schema-in" failed: schema validation failed: id: Expected string; amount: Expected number',
  )
  assert.equal(dls[0]!.headers['sluice-source-offset'], '1')
})

test('an asynchronous schema is refused per record with a clear message', () => {
  const AsyncSchema: StandardSchemaV1<unknown, Payment> = {
    '~standard': {
      version: 1,
      vendor: 'hand-made-async',
      validate: async (value) => ({ value: value as Payment }),
    },
  }
  const payments = topic('er-async-in', { schema: AsyncSchema })
  const p = pipeline('er-async')
  p.from(payments).forEach(() => {})
  const d = new TestDriver(p)
  d.pipe(payments, { id: 'p1', amount: 1 })
  assert.deepEqual(
    d.deadLetters().map((x) => x.headers['sluice-error']),
    [
      'step "source er-async-in" failed: the topic schema validates asynchronously; Sluice needs a synchronous schema',
    ],
  )
})

test('a throwing map: dead letter names the step; the record leaves no output on any branch', () => {
  const payments = topic<Payment>('er-throw-in')
  const audit = topic<Payment>('er-throw-audit')
  const out = topic<string>('er-throw-out')
  const p = pipeline('er-throw')
  const src = p.from(payments)
  // First branch: written before the second branch runs for the same record.
  src.to(audit)
  src
    .map(
      (x) => {
        if (x.amount < 0) throw new Error(`negative amount ${x.amount}`)
        return `${x.id}:${x.amount}`
      },
      { name: 'format-payment' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(payments, { id: 'p1', amount: 1 }, { key: 'c1', timestamp: 10 })
  d.pipe(payments, { id: 'p2', amount: -5 }, { key: 'c2', timestamp: 20 })
  d.pipe(payments, { id: 'p3', amount: 3 }, { key: 'c3', timestamp: 30 })
  // p2 reached the audit sink before the map threw; that output is rolled back.
  assert.deepEqual(
    d.values(audit).map((x) => x.id),
    ['p1', 'p3'],
  )
  assert.deepEqual(d.values(out), ['p1:1', 'p3:3'])
  const dls = d.deadLetters()
  assert.equal(dls.length, 1)
  const dl = dls[0]!
  assert.equal(dl.key, 'c2')
  assert.equal(dl.value, '{"id":"p2","amount":-5}') // the bytes as piped (JSON codec)
  assert.deepEqual(
    {
      error: dl.headers['sluice-error'],
      operator: dl.headers['sluice-operator'],
      topic: dl.headers['sluice-source-topic'],
      partition: dl.headers['sluice-source-partition'],
      offset: dl.headers['sluice-source-offset'],
      pipeline: dl.headers['sluice-pipeline'],
    },
    {
      error: 'step "format-payment" failed: negative amount -5',
      operator: 'format-payment',
      topic: 'er-throw-in',
      partition: '0',
      offset: '1',
      pipeline: 'er-throw',
    },
  )
  assert.match(dl.headers['sluice-error-stack']!, /negative amount -5/)
})

test('a record fanned out by flatMap: outputs before the failing element are dropped too', () => {
  const nums = topic<number>('er-flat-in')
  const out = topic<number>('er-flat-out')
  const p = pipeline('er-flat')
  p.from(nums)
    .flatMap((n) => [n, n + 1, n + 2])
    .map((n) => {
      if (n === 13) throw new Error('unlucky')
      return n
    })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(nums, 1).pipe(nums, 11).pipe(nums, 21)
  // 1 → 1, 2, 3. 11 → 11, 12 then 13 throws: 11 and 12 are not emitted. 21 → 21, 22, 23.
  assert.deepEqual(d.values(out), [1, 2, 3, 21, 22, 23])
  assert.deepEqual(
    d.deadLetters().map((x) => [x.value, x.headers['sluice-operator'], x.headers['sluice-source-offset']]),
    [['11', 'map-0', '1']],
  )
})

test('a throwing aggregator in a window step is dead-lettered; the window goes on counting', () => {
  interface Hit {
    page: string
    at: number
  }
  const hits = topic<Hit>('er-window-in', { key: (h) => h.page, timestamp: (h) => h.at })
  const out = topic<Windowed<number>>('er-window-out')
  const p = pipeline('er-window')
  p.from(hits)
    .keyed()
    .window(tumbling({ size: 1000 }))
    .aggregate(
      {
        init: () => 0,
        add: (n: number, h: Hit) => {
          if (h.page === 'boom') throw new Error('cannot count boom')
          return n + 1
        },
      },
      { name: 'hits-per-page' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(hits, { page: 'home', at: 100 })
  d.pipe(hits, { page: 'boom', at: 200 })
  d.pipe(hits, { page: 'home', at: 300 })
  d.advanceWatermark(1000)
  // home counted twice; boom failed and left no window behind.
  assert.deepEqual(d.values(out), [{ key: 'home', start: 0, end: 1000, value: 2 }])
  assert.deepEqual(
    d.deadLetters().map((x) => [x.headers['sluice-operator'], x.headers['sluice-error']]),
    [['hits-per-page', 'step "hits-per-page" failed: cannot count boom']],
  )
})

test('an error in a timer callback is dead-lettered without a source record', () => {
  const src = topic<{ k: string; at: number }>('er-timer-in', { key: (x) => x.k, timestamp: (x) => x.at })
  const p = pipeline('er-timer')
  p.from(src)
    .process({
      name: 'fragile',
      process(_v, ctx) {
        ctx.timers.eventTime(ctx.timestamp + 10)
      },
      onTimer() {
        throw new Error('timer broke')
      },
    })
    .forEach(() => {})
  const d = new TestDriver(p)
  d.pipe(src, { k: 'a', at: 0 })
  d.advanceWatermark(10)
  const dls = d.deadLetters()
  assert.equal(dls.length, 1)
  assert.equal(dls[0]!.value, null)
  assert.equal(dls[0]!.headers['sluice-operator'], 'fragile')
  assert.equal(dls[0]!.headers['sluice-error'], 'step "fragile" failed: timer broke')
  assert.equal(dls[0]!.headers['sluice-source-topic'], undefined)
})

test("a dead-lettered record leaves no state change behind (the failing record's partial effects)", () => {
  interface Order {
    poison: boolean
  }
  const orders = topic<Order>('er-state-in')
  const out = topic<Keyed<{ n: number; poison: boolean }>>('er-state-out')
  const p = pipeline('er-state')
  p.from(orders)
    .flatMap((o) => [o, o]) // two updates per record
    .keyed()
    .aggregate(
      {
        init: () => ({ n: 0, poison: false }),
        add: (acc: { n: number; poison: boolean }, o: Order) => ({ n: acc.n + 1, poison: o.poison }),
      },
      { name: 'updates' },
    )
    .map((k) => {
      if (k.value.poison) throw new Error('poison')
      return k
    })
    .to(out)
  const d = new TestDriver(p)
  d.pipe(orders, { poison: false }, { key: 'k' }) // n = 1, 2
  d.pipe(orders, { poison: true }, { key: 'k' }) // n = 3, then the map throws: dead letter
  d.pipe(orders, { poison: false }, { key: 'k' }) // from n = 2 again: 3, 4
  assert.equal(d.deadLetters().length, 1)
  assert.deepEqual(
    d.values(out).map((x) => x.value.n),
    [1, 2, 3, 4],
  )
})

test('two poison records in one batch, after a keyBy, with an accumulator changed in place: neither leaves a trace', () => {
  interface Sale {
    shop: string
    amount: number
  }
  const orders = topic<Sale[]>('er-batch-in')
  const out = topic<Windowed<{ total: number }>>('er-batch-out')
  const p = pipeline('er-batch')
  p.from(orders)
    .flatMap((sales) => sales.map((s) => s)) // one piped record: one batch for the window's task
    .keyBy((s) => s.shop)
    .window(tumbling({ size: 1000 }))
    .aggregate(
      {
        init: () => ({ total: 0 }),
        add: (acc: { total: number }, s: Sale) => {
          acc.total += s.amount // in place: what the failed record added stays unless it is rewound
          if (s.amount < 0) throw new Error('negative sale')
          return acc
        },
      },
      { name: 'sales' },
    )
    .to(out)
  const d = new TestDriver(p)
  d.pipe(
    orders,
    [
      { shop: 'a', amount: 1 },
      { shop: 'a', amount: -100 },
      { shop: 'a', amount: 10 },
      { shop: 'b', amount: 2 },
      { shop: 'a', amount: -1000 },
      { shop: 'a', amount: 100 },
    ],
    { timestamp: 10 },
  )
  d.advanceWatermark(1000)
  assert.deepEqual(
    d.values(out).map((w) => [w.key, w.value.total]),
    [
      ['a', 111],
      ['b', 2],
    ],
  )
  assert.deepEqual(
    d.deadLetters().map((x) => JSON.parse(x.value!) as Sale),
    [
      { shop: 'a', amount: -100 },
      { shop: 'a', amount: -1000 },
    ],
  )
})
