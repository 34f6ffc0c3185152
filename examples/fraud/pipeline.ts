/**
 * Fraud detection on card transactions: four rules, one alert topic.
 *
 * - velocity: 8 or more payments of a card within 3 minutes (sliding windows every 30 s);
 * - declined-approved: three declines, then an approval, within 10 minutes (a pattern);
 * - amount-spike: a payment at least 8× the card's average, once the card has 5 payments of
 *   history (the profile is keyed state of `process()`);
 * - impossible-travel: payments in two countries on different continents less than an hour
 *   apart (keyed state: the card's last country);
 * - fraud-ring: three or more cards paying from one device within an hour (the transactions
 *   re-keyed by device — a repartition — and keyed state per device: its recent cards).
 *
 *   sluice demo fraud                          (feeds generated transactions, scores the alerts)
 *   sluice run examples/fraud/pipeline.ts      (reads card-transactions, however they arrive)
 */
import { type Match, type Pipeline, pattern, pipeline, sliding, topic, type Windowed } from 'sluice'
import { z } from 'zod'
import type { Rule } from './generator.ts'

const Transaction = z.object({
  id: z.string(),
  cardId: z.string(),
  merchant: z.string(),
  country: z.string(),
  amount: z.number(),
  device: z.string(),
  at: z.string().datetime(),
  status: z.enum(['approved', 'declined']),
})
export type Transaction = z.infer<typeof Transaction>

export interface Alert {
  card: string
  rule: Rule
  /** The transactions that raised the alert. */
  txIds: string[]
  /** Event time of the transaction that raised it, ISO 8601. */
  at: string
  detail: string
}

/**
 * The input and output topics; `sluice demo fraud` on Kafka gives each run its own (a suffix),
 * so a run never reads the alerts or the pipeline state of an earlier one.
 */
export function fraudTopics(suffix = '') {
  return {
    transactions: topic(`card-transactions${suffix}`, {
      schema: Transaction,
      key: (t) => t.cardId,
      timestamp: (t) => t.at,
      partitions: 4,
    }),
    alerts: topic<Alert>(`fraud-alerts${suffix}`, { key: (a) => a.card }),
  }
}
export type FraudTopics = ReturnType<typeof fraudTopics>
export const { transactions, alerts } = fraudTopics()

const VELOCITY_COUNT = 8
const SPIKE_FACTOR = 8
const PROFILE_MIN_PAYMENTS = 5
const TRAVEL_MS = 60 * 60_000
/** A household shares a device between two cards; three cards on one device within the hour is a ring. */
const RING_CARDS = 3
const RING_MS = 60 * 60_000

/** Countries by continent: a card in two of them within the hour has not travelled. */
const CONTINENT: Record<string, string> = {}
for (const [continent, countries] of Object.entries({
  europe: ['DE', 'FR', 'NL', 'ES', 'IT', 'PL', 'SE', 'GB'],
  'north-america': ['US', 'CA', 'MX'],
  'south-america': ['BR', 'AR', 'CL'],
  'asia-pacific': ['JP', 'SG', 'IN', 'AU'],
  africa: ['NG', 'ZA', 'KE'],
})) {
  for (const c of countries) CONTINENT[c] = continent
}

const iso = (ms: number) => new Date(ms).toISOString()

interface Burst {
  n: number
  ids: string[]
  last: number
}

interface Profile {
  n: number
  mean: number
}

interface LastSeen {
  country: string
  at: number
  id: string
}

/** A device's recent cards: when each last paid from it, and with which transactions. */
interface DeviceCards {
  cards: Record<string, { at: number; txIds: string[] }>
  /** No new ring alert for this device before this event time: one alert per ring. */
  quietUntil: number
}

/** Builds the pipeline; `sluice run` runs the one this module exports by default. */
export function fraudPipeline(
  name = 'fraud-detection',
  topics: FraudTopics = { transactions, alerts },
): Pipeline {
  const p = pipeline(name)
  // Transactions are keyed by card on the way in: every rule works per card with no repartition.
  const byCard = p
    .from(topics.transactions, { watermark: { maxOutOfOrder: '10s', idleAfter: '30s' } })
    .keyed()

  const velocity = byCard
    .window(sliding({ size: '3m', every: '30s' }))
    .aggregate(
      {
        init: (): Burst => ({ n: 0, ids: [], last: 0 }),
        add: (b: Burst, t: Transaction): Burst => ({
          n: b.n + 1,
          ids: b.ids.length < 20 ? [...b.ids, t.id] : b.ids,
          last: Math.max(b.last, Date.parse(t.at)),
        }),
      },
      { name: 'velocity' },
    )
    .filter((w: Windowed<Burst>) => w.value.n >= VELOCITY_COUNT)
    .map(
      (w): Alert => ({
        card: w.key,
        rule: 'velocity',
        txIds: w.value.ids,
        at: iso(w.value.last),
        detail: `${w.value.n} payments between ${iso(w.start)} and ${iso(w.end)}`,
      }),
    )

  const declinedThenApproved = pattern<Transaction>()
    .begin('declined', (t) => t.status === 'declined')
    .times(3)
    .followedBy('approved', (t) => t.status === 'approved')
    .within('10m')
  const retried = byCard.match(declinedThenApproved, { name: 'declined-approved' }).map(
    (m: Match<Transaction, 'declined' | 'approved'>): Alert => ({
      card: m.key,
      rule: 'declined-approved',
      txIds: [...m.events.declined, ...m.events.approved].map((t) => t.id),
      at: iso(m.end),
      detail: `3 declines, then approved ${Math.round((m.end - m.start) / 1000)} s after the first`,
    }),
  )

  const spikes = byCard.process<Alert, Profile>({
    name: 'amount-profile',
    process(t, ctx) {
      const profile = ctx.state.get() ?? { n: 0, mean: 0 }
      if (profile.n >= PROFILE_MIN_PAYMENTS && t.amount >= SPIKE_FACTOR * profile.mean) {
        ctx.emit({
          card: t.cardId,
          rule: 'amount-spike',
          txIds: [t.id],
          at: t.at,
          detail: `${t.amount.toFixed(2)} is ${(t.amount / profile.mean).toFixed(1)}× the card's average of ${profile.mean.toFixed(2)}`,
        })
      }
      // A spike joins the profile too: the next one has to stand out from it as well.
      const n = profile.n + 1
      ctx.state.set({ n, mean: profile.mean + (t.amount - profile.mean) / n })
    },
  })

  const travel = byCard.process<Alert, LastSeen>({
    name: 'last-country',
    process(t, ctx) {
      const at = Date.parse(t.at)
      const last = ctx.state.get()
      // Records of a card can arrive a few seconds out of order: compare either way round.
      if (last && CONTINENT[last.country] !== CONTINENT[t.country] && Math.abs(at - last.at) < TRAVEL_MS) {
        ctx.emit({
          card: t.cardId,
          rule: 'impossible-travel',
          txIds: [last.id, t.id],
          at: t.at,
          detail: `${last.country} then ${t.country} ${Math.round(Math.abs(at - last.at) / 60_000)} min apart`,
        })
      }
      if (!last || at >= last.at) ctx.state.set({ country: t.country, at, id: t.id })
    },
  })

  // The one rule that is not per card: re-keyed by device, which writes a repartition topic.
  const rings = byCard
    .keyBy((t) => t.device, { name: 'by-device' })
    .process<Alert, DeviceCards>({
      name: 'shared-device',
      process(t, ctx) {
        const at = Date.parse(t.at)
        const s = ctx.state.get() ?? { cards: {}, quietUntil: 0 }
        const seen = s.cards[t.cardId]
        s.cards[t.cardId] = {
          at: Math.max(at, seen?.at ?? 0),
          txIds: seen ? [...seen.txIds.slice(-4), t.id] : [t.id],
        }
        // Cards that last paid from here more than an hour before this payment are no longer its company.
        for (const [card, c] of Object.entries(s.cards)) if (c.at < at - RING_MS) delete s.cards[card]
        const cards = Object.keys(s.cards).sort()
        if (cards.length >= RING_CARDS && at >= s.quietUntil) {
          s.quietUntil = at + RING_MS
          ctx.emit({
            card: t.cardId,
            rule: 'fraud-ring',
            txIds: cards.flatMap((card) => s.cards[card]!.txIds),
            at: t.at,
            detail: `${cards.length} cards paid from device ${ctx.key} within the hour: ${cards.join(', ')}`,
          })
        }
        ctx.state.set(s)
      },
    })

  velocity.merge(retried, spikes, travel).to(topics.alerts)
  // A sink of its own, not a merge: a merge with the per-card rules would put them in the
  // subtopology after the repartition, reading its own repartition topic.
  rings.to(topics.alerts)
  return p
}

export default fraudPipeline()
