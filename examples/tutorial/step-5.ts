/**
 * Tutorial, step 5: keyed state with process(), each card's amount profile (docs/tutorial.md).
 *
 *   npx sluice run examples/tutorial/step-5.ts
 */
import { type KeyedStream, pipeline, type Stream } from 'sluice'
import { type Payment, payments } from './step-1.ts'
import { type Alert, alerts } from './step-2.ts'

// #region rule
interface Profile {
  /** Approved payments seen, and their mean amount. */
  n: number
  mean: number
}

const DAY = 24 * 60 * 60_000

/** A payment 8 times the card's mean or more, once the card has 5 payments of history. */
export function amountSpikes(byCard: KeyedStream<Payment>): Stream<Alert> {
  return byCard.process<Alert, Profile>({
    name: 'amount-profile',
    // A card unused for 90 days starts a new profile (and stops costing state).
    ttl: 90 * DAY,
    process(t, ctx) {
      if (t.status !== 'approved') return
      const profile = ctx.state.get() ?? { n: 0, mean: 0 }
      if (profile.n >= 5 && t.amount >= 8 * profile.mean) {
        ctx.emit({
          card: t.cardId,
          rule: 'amount-spike',
          paymentIds: [t.id],
          at: t.at,
          detail: `${t.amount} is ${(t.amount / profile.mean).toFixed(1)}× the card's mean of ${profile.mean.toFixed(2)}`,
        })
      }
      const n = profile.n + 1
      ctx.state.set({ n, mean: profile.mean + (t.amount - profile.mean) / n })
    },
  })
}
// #endregion rule

// #region pipeline
const p = pipeline('tutorial-5')
const byCard = p
  .from(payments, { watermark: { maxOutOfOrder: '10s', idleAfter: '30s' } })
  .keyBy((t) => t.cardId, { name: 'by-card' })
amountSpikes(byCard).to(alerts)

export default p
// #endregion pipeline
