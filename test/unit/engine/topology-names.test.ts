/**
 * Step names and the compiled topology: describe() output, errors for unnamed stateful steps
 * and duplicate names, and the guarantee that adding stateless steps in front of a stateful
 * one changes neither its state store name nor its repartition topic name (so redeploying
 * such a change does not orphan state). Expected strings are written out by hand from the
 * naming rules in src/topology/compile.ts.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compile, count, type Processor, pipeline, sum, topic, tumbling } from 'sluice'
import { TestDriver } from 'sluice/testing'

interface Txn {
  card: string
  amount: number
  at: number
}

const txns = topic<Txn>('tn-txns', { key: (t) => t.card, timestamp: (t) => t.at })
const out = topic('tn-out')

test('describe() shows subtopologies, fused steps, internal topics and stores by stable name', () => {
  const p = pipeline('tn-describe')
  p.from(txns)
    .filter((t) => t.amount > 0)
    .map((t) => t)
    .keyBy((t) => t.card)
    .window(tumbling({ size: '1m' }), { allowedLateness: '10s' })
    .aggregate(count(), { name: 'txns-per-minute' })
    .map((w) => w.value, { name: 'to-count' })
    .to(out)
  // The keyBy is cut into a repartition sink and an internal source; it is named after the
  // next stateful step (txns-per-minute-by). Unnamed stateless steps print as their kind.
  const expected = [
    'pipeline tn-describe',
    '  subtopology 0 (one task per partition of tn-txns)',
    '    source tn-txns',
    '      → filter',
    '        → map',
    '          → keyBy txns-per-minute-by ⇒ tn-describe-txns-per-minute-by-repartition',
    '  subtopology 1 (one task per partition of tn-describe-txns-per-minute-by-repartition)',
    '    source tn-describe-txns-per-minute-by-repartition (internal)',
    '      → window-aggregate txns-per-minute [tumbling 60000ms, lateness 10000ms, emit final]',
    '        → map to-count',
    '          → to tn-out',
    '  state stores: tn-describe.txns-per-minute',
    '  dead letters: tn-describe-dlq',
  ].join('\n')
  assert.equal(new TestDriver(p).describe(), expected)
})

test('compile() rejects a stateful step without a name', () => {
  const p = pipeline('tn-unnamed')
  p.from(txns)
    .keyed()
    .window(tumbling({ size: 1000 }))
    // A JavaScript caller (or a cast) can leave the name out; the types require it.
    .aggregate(count(), {} as { name: string })
  assert.throws(() => compile(p), {
    name: 'TypeError',
    message: `pipeline "tn-unnamed": a window-aggregate step needs a name, e.g. { name: 'spend' }`,
  })

  const q = pipeline('tn-unnamed-process')
  q.from(txns).process({ process() {} } as unknown as Processor<Txn, never, never>)
  assert.throws(() => new TestDriver(q), {
    message: `pipeline "tn-unnamed-process": a process step needs a name, e.g. { name: 'spend' }`,
  })
})

test('compile() rejects a keyBy that no stateful step can name', () => {
  const p = pipeline('tn-keyby')
  p.from(txns)
    .keyBy((t) => t.card)
    .to(out)
  assert.throws(() => compile(p), {
    message:
      'pipeline "tn-keyby": keyBy needs { name } here — no stateful step follows it to name its repartition topic',
  })
})

test('compile() rejects duplicate step names', () => {
  const p = pipeline('tn-dup')
  const s = p.from(txns)
  s.map((t) => t.amount, { name: 'amount' }).forEach(() => {})
  s.map((t) => t.card, { name: 'amount' }).forEach(() => {})
  assert.throws(() => compile(p), {
    message: 'pipeline "tn-dup": two steps are named "amount"; step names must be unique',
  })

  const q = pipeline('tn-dup-state')
  const keyed = q.from(txns).keyed()
  keyed.aggregate(count(), { name: 'spend' })
  keyed.window(tumbling({ size: 1000 })).aggregate(count(), { name: 'spend' })
  assert.throws(() => compile(q), {
    message: 'pipeline "tn-dup-state": two steps are named "spend"; step names must be unique',
  })
})

test('adding steps in front of a stateful step keeps its store and repartition topic names', () => {
  // Version 1 of a pipeline.
  const v1 = pipeline('tn-velocity')
  v1.from(txns)
    .keyBy((t) => t.card)
    .window(tumbling({ size: '1m' }))
    .aggregate(
      sum((t: Txn) => t.amount),
      { name: 'spend' },
    )
    .to(out)
  // Version 2: the same pipeline with a filter (and more) added in front, and after keyBy.
  const v2 = pipeline('tn-velocity')
  v2.from(txns)
    .filter((t) => t.amount > 0)
    .map((t) => ({ ...t, card: t.card.trim() }))
    .peek(() => {})
    .keyBy((t) => t.card)
    .filter((t) => t.card !== 'test-card')
    .keyed() // filter returns a plain Stream; its records still carry the card key
    .window(tumbling({ size: '1m' }))
    .aggregate(
      sum((t: Txn) => t.amount),
      { name: 'spend' },
    )
    .to(out)
  const t1 = compile(v1)
  const t2 = compile(v2)
  // Store `<pipeline>.<step>`; repartition topic `<pipeline>-<step>-by-repartition`.
  assert.deepEqual(t1.stores, ['tn-velocity.spend'])
  assert.deepEqual(t2.stores, ['tn-velocity.spend'])
  assert.deepEqual(t1.repartitionTopics, [{ topic: 'tn-velocity-spend-by-repartition', from: 0 }])
  assert.deepEqual(t2.repartitionTopics, [{ topic: 'tn-velocity-spend-by-repartition', from: 0 }])

  // Version 3: a new stateful step in front adds a store, and leaves `spend` as it was.
  const v3 = pipeline('tn-velocity')
  v3.from(txns)
    .process<Txn>({ name: 'dedupe', process: (t, ctx) => ctx.emit(t) })
    .keyBy((t) => t.card)
    .window(tumbling({ size: '1m' }))
    .aggregate(
      sum((t: Txn) => t.amount),
      { name: 'spend' },
    )
    .to(out)
  const t3 = compile(v3)
  assert.deepEqual(t3.stores, ['tn-velocity.dedupe', 'tn-velocity.spend'])
  assert.deepEqual(t3.repartitionTopics, [{ topic: 'tn-velocity-spend-by-repartition', from: 0 }])
})

test('a named keyBy names its repartition topic itself', () => {
  const p = pipeline('tn-named-keyby')
  p.from(txns)
    .keyBy((t) => t.card, { name: 'by-card' })
    .aggregate(count(), { name: 'txn-count' })
    .to(out)
  assert.deepEqual(
    compile(p).repartitionTopics.map((r) => r.topic),
    ['tn-named-keyby-by-card-repartition'],
  )
})

test('split branches are named split-<branch> in describe()', () => {
  const p = pipeline('tn-split')
  const { big, default: rest } = p.from(txns).split({ big: (t) => t.amount > 100 })
  big.to(out)
  rest.forEach(() => {})
  const text = new TestDriver(p).describe()
  assert.match(text, /→ filter split-big\n {8}→ to tn-out/)
  assert.match(text, /→ filter split-default\n {8}→ forEach/)
})

test('a stream can be split twice', () => {
  const p = pipeline('tn-split-twice')
  const s = p.from(txns)
  s.split({ big: (t) => t.amount > 100 }).big.to(out)
  s.split({ small: (t) => t.amount < 1 }).small.to(out)
  assert.doesNotThrow(() => compile(p))
})
