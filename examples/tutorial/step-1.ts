/**
 * Tutorial, step 1: a topic with a schema (docs/tutorial.md). The pipeline copies every
 * payment that passes the schema to `payments-checked`; the others go to `tutorial-1-dlq`.
 *
 *   npx sluice run examples/tutorial/step-1.ts
 */
import { pipeline, topic } from 'sluice'
import { z } from 'zod'

// #region topic
const Payment = z.object({
  id: z.string(),
  cardId: z.string(),
  amount: z.number().positive(),
  country: z.string().length(2),
  status: z.enum(['approved', 'declined']),
  at: z.string().datetime(),
})
export type Payment = z.infer<typeof Payment>

export const payments = topic('payments', {
  schema: Payment,
  key: (t) => t.cardId,
  timestamp: (t) => t.at,
  partitions: 4,
})
// #endregion topic

// #region pipeline
export const checked = topic<Payment>('payments-checked')

const p = pipeline('tutorial-1')
p.from(payments).to(checked)

export default p
// #endregion pipeline
