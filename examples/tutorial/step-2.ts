/**
 * Tutorial, step 2: the first rule, with filter and map (docs/tutorial.md).
 *
 *   npx sluice run examples/tutorial/step-2.ts
 */
import { pipeline, type Stream, topic } from 'sluice'
import { type Payment, payments } from './step-1.ts'

// #region alert
export interface Alert {
  card: string
  rule: 'large-payment' | 'velocity' | 'declined-approved' | 'amount-spike'
  /** The payments that raised the alert. */
  paymentIds: string[]
  /** Event time of the alert, ISO 8601. */
  at: string
  detail: string
}

export const alerts = topic<Alert>('payment-alerts', { key: (a) => a.card })
// #endregion alert

// #region rule
const LARGE = 5_000

/** An approved payment of 5,000 or more is worth a look on its own. */
export function largePayments(payments: Stream<Payment>): Stream<Alert> {
  return payments
    .filter((t) => t.status === 'approved' && t.amount >= LARGE)
    .map(
      (t): Alert => ({
        card: t.cardId,
        rule: 'large-payment',
        paymentIds: [t.id],
        at: t.at,
        detail: `${t.amount} in one payment`,
      }),
    )
}
// #endregion rule

// #region pipeline
const p = pipeline('tutorial-2')
largePayments(p.from(payments)).to(alerts)

export default p
// #endregion pipeline
