/**
 * Tutorial, step 6: the four rules in one pipeline, one alert topic (docs/tutorial.md).
 *
 *   npx sluice run examples/tutorial/step-6.ts
 *   npx sluice run examples/tutorial/step-6.ts --backend kafka://127.0.0.1:9092
 */
import { type Pipeline, pipeline } from 'sluice'
import { payments } from './step-1.ts'
import { alerts, largePayments } from './step-2.ts'
import { velocity } from './step-3.ts'
import { declinesThenApproval } from './step-4.ts'
import { amountSpikes } from './step-5.ts'

// #region pipeline
export function fraudRules(name = 'fraud-rules'): Pipeline {
  const p = pipeline(name)
  const byCard = p
    .from(payments, { watermark: { maxOutOfOrder: '10s', idleAfter: '30s' } })
    .keyBy((t) => t.cardId, { name: 'by-card' })
  largePayments(byCard).merge(velocity(byCard), declinesThenApproval(byCard), amountSpikes(byCard)).to(alerts)
  return p
}

export default fraudRules()
// #endregion pipeline
