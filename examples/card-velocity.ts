/**
 * Card velocity: alert when a card spends more than 20 times within 10 minutes.
 *
 *   sluice topics create transactions --partitions 4
 *   sluice run examples/card-velocity.ts
 *   echo '{"cardId":"c1","amount":12.5,"at":"2026-01-01T10:00:00Z"}' | sluice produce transactions --key-field cardId
 */
import { pipeline, sliding, topic, type Windowed } from 'sluice'
import { z } from 'zod'

const Txn = z.object({
  cardId: z.string(),
  amount: z.number(),
  merchant: z.string().optional(),
  at: z.string().datetime(),
})
type Txn = z.infer<typeof Txn>

export interface Alert {
  cardId: string
  windowStart: string
  count: number
  total: number
}

const txns = topic('transactions', { schema: Txn, key: (t) => t.cardId, timestamp: (t) => t.at })
const alerts = topic<Alert>('alerts')
const lateTxns = topic<Txn>('late-transactions')

pipeline('card-velocity')
  .from(txns, { watermark: { maxOutOfOrder: '5s', idleAfter: '30s' } })
  .filter((t) => t.amount > 0)
  .keyBy((t) => t.cardId)
  .window(sliding({ size: '10m', every: '1m' }), { allowedLateness: '1m', late: lateTxns })
  .aggregate(
    { init: () => ({ n: 0, sum: 0 }), add: (a, t: Txn) => ({ n: a.n + 1, sum: a.sum + t.amount }) },
    { name: 'spend' },
  )
  .filter((w: Windowed<{ n: number; sum: number }>) => w.value.n > 20)
  .map((w) => ({
    cardId: w.key,
    windowStart: new Date(w.start).toISOString(),
    count: w.value.n,
    total: w.value.sum,
  }))
  .to(alerts)
