/**
 * docs/concepts/joins.md: a stream–table join (event-time versions) and a stream–stream join.
 * Checked by test/unit/docs/concepts.test.ts.
 */
import { type Pipeline, pipeline, topic } from 'sluice'

export interface Order {
  id: string
  customer: string
  amount: number
  at: number
}

export interface Customer {
  id: string
  tier: 'basic' | 'gold'
  updatedAt: number
}

export interface Shipment {
  order: string
  at: number
}

export const orders = topic<Order>('orders', { key: (o) => o.id, timestamp: (o) => o.at })
export const customers = topic<Customer>('customers', { key: (c) => c.id, timestamp: (c) => c.updatedAt })
export const shipments = topic<Shipment>('shipments', { key: (s) => s.order, timestamp: (s) => s.at })
export const priced = topic<Order & { tier: Customer['tier'] }>('orders-priced')
export const late = topic<{ order: string; shippedAfterMs: number | null }>('orders-shipped-late')

// #region stream-table
export function ordersWithTier(): Pipeline {
  const p = pipeline('orders-with-tier')
  const tiers = p.table(customers) // the latest customer per id, kept by event time
  p.from(orders, { watermark: { maxOutOfOrder: '5s' } })
    .keyBy((o) => o.customer, { name: 'by-customer' }) // the table is keyed by customer id
    .join(tiers, (o, c) => ({ ...o, tier: c.tier })) // the tier at the order's event time
    .to(priced)
  return p
}
// #endregion stream-table

// #region stream-stream
/** Orders not shipped within an hour: a left join that emits the unpaired orders. */
export function slowShipments(): Pipeline {
  const p = pipeline('slow-shipments')
  const byOrder = p.from(orders).keyed()
  byOrder
    .leftJoin(
      p.from(shipments).keyed(),
      (o, s) => ({ order: o.id, shippedAfterMs: s ? s.at - o.at : null }),
      { name: 'order-shipment', before: 0, after: '1h' },
    )
    .filter((r) => r.shippedAfterMs === null)
    .to(late)
  return p
}
// #endregion stream-stream
