/**
 * Tutorial, step 4: an event pattern, three declines then an approval (docs/tutorial.md).
 *
 *   npx sluice run examples/tutorial/step-4.ts
 */
import { type KeyedStream, pattern, pipeline, type Stream } from 'sluice'
import { type Payment, payments } from './step-1.ts'
import { type Alert, alerts } from './step-2.ts'

// #region rule
const declinedThenApproved = pattern<Payment>()
  .begin('declined', (t) => t.status === 'declined')
  .times(3)
  .followedBy('approved', (t) => t.status === 'approved')
  .within('10m')

/** Three declines, then an approval: someone guessing until a payment goes through. */
export function declinesThenApproval(byCard: KeyedStream<Payment>): Stream<Alert> {
  return byCard.match(declinedThenApproved, { name: 'declined-approved' }).map(
    (m): Alert => ({
      card: m.key,
      rule: 'declined-approved',
      paymentIds: [...m.events.declined, ...m.events.approved].map((t) => t.id),
      at: new Date(m.end).toISOString(),
      detail: `3 declines, then approved ${(m.end - m.start) / 1000} s after the first`,
    }),
  )
}
// #endregion rule

// #region pipeline
const p = pipeline('tutorial-4')
const byCard = p
  .from(payments, { watermark: { maxOutOfOrder: '10s', idleAfter: '30s' } })
  .keyBy((t) => t.cardId, { name: 'by-card' })
declinesThenApproval(byCard).to(alerts)

export default p
// #endregion pipeline
