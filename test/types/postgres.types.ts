/**
 * Type-level tests of the PostgreSQL connectors, checked by tsc: the shapes the docs show must
 * compile; each `@ts-expect-error` line must not. Never run (connect() would register them).
 */
import { connect, postgres, postgresPoll, topic } from 'sluice'

interface Alert {
  id: string
  card: string
  amount: number
}
const alerts = topic<Alert>('type-pg-alerts')
const payments = topic<{ id: number; card: string }>('type-pg-payments')

export function declare(): void {
  // The README's shape: the record type comes from the topic.
  connect('a1', {
    from: alerts,
    to: postgres({ url: 'postgres://127.0.0.1/app', table: 'alerts', key: ['id'] }),
  })
  connect('a2', { from: alerts, to: postgres({ table: 'app.alerts', columns: ['id', 'card'] }) })
  // With the type spelled out, `columns` is checked against the record.
  connect('a3', {
    from: alerts,
    to: postgres<Alert>({
      table: 'alerts',
      columns: (v, r) => ({ id: v.id, card: v.card, at: r.timestamp }),
    }),
  })
  // @ts-expect-error: `nope` is not a field of Alert
  postgres<Alert>({ table: 'alerts', columns: ['id', 'nope'] })
  // @ts-expect-error: onRejected is 'dead-letter' or 'fail'
  postgres<Alert>({ table: 'alerts', onRejected: 'skip' })

  connect('p1', { from: postgresPoll({ table: 'payments', column: 'id', interval: '500ms' }), to: payments })
  connect('p2', {
    from: postgresPoll({
      query: 'SELECT id, card FROM payments',
      map: (row) => ({ id: Number(row.id), card: String(row.card) }),
    }),
    to: payments,
  })
  // @ts-expect-error: interval is a Duration
  postgresPoll({ table: 'payments', interval: 'soon' })
}
