/**
 * Type-level tests, checked by `npm run check` (tsc). Each `@ts-expect-error` line must NOT
 * compile: if a change to the DSL made it compile, tsc reports the directive as unused and
 * the check fails. The other lines must compile.
 */
import {
  count,
  hopping,
  pattern,
  pipeline,
  type StandardSchemaV1,
  sum,
  topic,
  tumbling,
  type Windowed,
} from 'sluice'

interface Txn {
  cardId: string
  amount: number
  at: number
}
interface Alert {
  cardId: string
  total: number
}

const txns = topic<Txn>('type-txns', { key: (t) => t.cardId, timestamp: (t) => t.at })
const alerts = topic<Alert>('type-alerts')
const p = pipeline('types')

// Types flow through every stage.
const windowed = p
  .from(txns)
  .filter((t) => t.amount > 0)
  .keyBy((t) => t.cardId)
  .window(hopping({ size: '10m', advance: '1m' }))
  .aggregate(
    sum((t: Txn) => t.amount),
    { name: 'spend' },
  )
windowed.map((w: Windowed<number>) => ({ cardId: w.key, total: w.value })).to(alerts)

// @ts-expect-error a Windowed<number> stream cannot be written to a topic of Alert
windowed.to(alerts)

// @ts-expect-error map's input is Txn: it has no `price`
p.from(txns).map((t) => t.price)

// @ts-expect-error filter must return a boolean-ish predicate over Txn, not take a string
p.from(txns).filter((t: string) => t.length > 0)

const perMinute = p
  .from(txns)
  .keyBy((t) => t.cardId)
  .window(tumbling({ size: '1m' }))
const byLength = sum((s: string) => s.length)
// @ts-expect-error the aggregator folds Txn values, not strings
perMinute.aggregate(byLength, { name: 'x' })

// @ts-expect-error stateful steps need a name
perMinute.aggregate(count())

// A type guard narrows the stream.
const big = p.from(txns).filter((t): t is Txn & { amount: 1000 } => t.amount === 1000)
big.map((t) => {
  const exact: 1000 = t.amount
  return exact
})

// A Standard Schema infers the topic type.
const schema: StandardSchemaV1<unknown, { id: number }> = {
  '~standard': { version: 1, vendor: 'test', validate: (v) => ({ value: v as { id: number } }) },
}
const ids = topic('type-ids', { schema })
p.from(ids).map((r) => r.id + 1)
// @ts-expect-error the schema says records have `id`, not `name`
p.from(ids).map((r) => r.name)

// Joins: the joiner sees the table's value type; a left join's may be undefined.
interface Card {
  cardId: string
  limit: number
}
const cards = p.table(topic<Card>('type-cards'))
p.from(txns)
  .keyBy((t) => t.cardId)
  .join(cards, (t, c) => t.amount / c.limit)
  .map((ratio) => ratio.toFixed(2))
p.from(txns)
  .keyBy((t) => t.cardId)
  // @ts-expect-error in a left join the card may be missing
  .leftJoin(cards, (t, c) => t.amount / c.limit, { name: 'left-ratio' })
// @ts-expect-error the table holds cards, which have no `name`
p.from(txns).join(cards, (_t, c) => c.name, { name: 'bad-join' })

// Patterns: a match carries the events of each named stage, typed.
const bigThenSmall = pattern<Txn>()
  .begin('big', (t) => t.amount > 1000)
  .followedBy('small', (t) => t.amount < 10)
  .within('1h')
const matches = p
  .from(txns)
  .keyBy((t) => t.cardId)
  .match(bigThenSmall, { name: 'big-small' })
matches.map((m) => m.events.big[0]!.amount + m.events.small.length)
// @ts-expect-error the pattern has no stage named "medium"
matches.map((m) => m.events.medium)
const overStrings = pattern<string>().begin('s', (s) => s.length > 0)
// @ts-expect-error a pattern over strings cannot match a stream of Txn
p.from(txns).match(overStrings, { name: 'wrong-type' })
