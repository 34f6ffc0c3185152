/**
 * The README's first pipeline, exactly as it shows it (README.md quotes the region below, and
 * test/unit/docs/readme.test.ts runs it on examples/transactions.ndjson, the data the README's
 * commands feed it). A fuller version is examples/card-velocity.ts.
 */
// #region pipeline
import { pipeline, sliding, topic } from 'sluice'
import { z } from 'zod'

const Txn = z.object({ cardId: z.string(), amount: z.number(), at: z.string().datetime() })
export const txns = topic('transactions', { schema: Txn, key: (t) => t.cardId, timestamp: (t) => t.at })
export const alerts = topic<{ cardId: string; count: number }>('alerts')

export const velocity = pipeline('card-velocity')
velocity
  .from(txns, { watermark: { maxOutOfOrder: '5s', idleAfter: '30s' } })
  .filter((t) => t.amount > 0)
  .keyBy((t) => t.cardId)
  .window(sliding({ size: '10m', every: '1m' }), { allowedLateness: '1m' })
  .aggregate({ init: () => 0, add: (n) => n + 1 }, { name: 'spend' })
  .filter((w) => w.value > 20)
  .map((w) => ({ cardId: w.key, count: w.value }))
  .to(alerts)
// #endregion pipeline
