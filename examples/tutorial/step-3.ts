/**
 * Tutorial, step 3: keyBy and a sliding window, the velocity rule (docs/tutorial.md).
 *
 *   npx sluice run examples/tutorial/step-3.ts
 */
import { type KeyedStream, pipeline, type Stream, sliding } from 'sluice'
import { type Payment, payments } from './step-1.ts'
import { type Alert, alerts } from './step-2.ts'

// #region rule
interface Burst {
  n: number
  ids: string[]
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Five payments or more of one card within 3 minutes: someone testing a stolen card. */
export function velocity(byCard: KeyedStream<Payment>): Stream<Alert> {
  return byCard
    .window(sliding({ size: '3m', every: '30s' }))
    .aggregate(
      {
        init: (): Burst => ({ n: 0, ids: [] }),
        add: (b: Burst, t: Payment): Burst => ({ n: b.n + 1, ids: [...b.ids, t.id] }),
      },
      { name: 'velocity' },
    )
    .filter((w) => w.value.n >= 5)
    .map(
      (w): Alert => ({
        card: w.key,
        rule: 'velocity',
        paymentIds: w.value.ids,
        at: iso(w.end - 1),
        detail: `${w.value.n} payments between ${iso(w.start)} and ${iso(w.end)}`,
      }),
    )
    .dedupe({ name: 'velocity-once', id: (a) => a.card, within: '3m' })
}
// #endregion rule

// #region pipeline
const p = pipeline('tutorial-3')
const byCard = p
  .from(payments, { watermark: { maxOutOfOrder: '10s', idleAfter: '30s' } })
  .keyBy((t) => t.cardId, { name: 'by-card' })
velocity(byCard).to(alerts)

export default p
// #endregion pipeline
