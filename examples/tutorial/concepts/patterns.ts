/**
 * docs/concepts/patterns.md: a pattern with a trailing notFollowedBy.
 * Checked by test/unit/docs/concepts.test.ts.
 */
import { type Match, type Pipeline, pattern, pipeline, topic } from 'sluice'

export interface CartEvent {
  user: string
  kind: 'add' | 'remove' | 'checkout'
  at: number
}

export const cartEvents = topic<CartEvent>('cart-events', { key: (e) => e.user, timestamp: (e) => e.at })
export const abandoned = topic<{ user: string; addedAt: number }>('carts-abandoned')

// #region abandoned
const addedNoCheckout = pattern<CartEvent>()
  .begin('added', (e) => e.kind === 'add')
  .notFollowedBy('checkout', (e) => e.kind === 'checkout')
  .within('30m')

export function abandonedCarts(): Pipeline {
  const p = pipeline('abandoned-carts')
  p.from(cartEvents, { watermark: { maxOutOfOrder: '1m' } })
    .keyed()
    .match(addedNoCheckout, { name: 'abandoned' })
    .map((m: Match<CartEvent, 'added'>) => ({ user: m.key, addedAt: m.start }))
    .to(abandoned)
  return p
}
// #endregion abandoned
