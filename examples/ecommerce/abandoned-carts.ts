/**
 * Abandoned carts: a cart add not followed by a purchase in the same session within 20
 * minutes of event time (ABANDONED_AFTER_MS).
 *
 * Clicks are keyed by session on the way in, so the pattern runs per session with no
 * repartition. The pattern's trailing `notFollowedBy` makes it a match only once 20 minutes
 * have passed without a purchase (in event time: the match comes when the watermark passes
 * the deadline, however late the clicks arrived). Every cart add starts its own match, so a
 * session that added three products and left matches three times: `dedupe` on the session
 * keeps the first — one alert per cart.
 */
import { type Match, pattern, type SinkTopic, type Stream } from 'sluice'
import { ABANDONED_AFTER_MS, type AbandonedCart, type Click } from './model.ts'

const iso = (ms: number) => new Date(ms).toISOString()

// #region abandoned-carts
const abandoned = pattern<Click>()
  .begin('add', (c) => c.kind === 'cart-add')
  .notFollowedBy('purchase', (c) => c.kind === 'purchase')
  .within(ABANDONED_AFTER_MS)

export function abandonedCarts(clicksBySession: Stream<Click>, out: SinkTopic<AbandonedCart>): void {
  clicksBySession
    .match(abandoned, { name: 'abandoned-cart' })
    .dedupe({ name: 'one-alert-per-cart', within: '2h' })
    .map(
      (m: Match<Click, 'add'>): AbandonedCart => {
        const add = m.events.add[0]!
        return {
          sessionId: m.key,
          shopperId: add.shopperId,
          productId: add.kind === 'cart-add' ? add.productId : '',
          addedAt: add.at,
          at: iso(m.end),
        }
      },
      { name: 'abandoned-cart-alert' },
    )
    .to(out, { name: 'abandoned-carts-out' })
}
// #endregion abandoned-carts
