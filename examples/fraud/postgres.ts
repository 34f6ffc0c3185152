/**
 * Fraud alerts into PostgreSQL: the table, and a connector that drains the alert topic into it
 * (exactly once: the sink stores its topic positions with the rows).
 *
 *   sluice demo fraud --postgres postgres://postgres@127.0.0.1:5432/test
 */
import { type Connector, connect, postgres, type TopicDef } from 'sluice'
import type { Alert } from './pipeline.ts'

export const ALERTS_TABLE = 'fraud_alerts'

/** Creates the table if it is missing: the sink itself never creates or alters tables. */
export async function createAlertsTable(url: string): Promise<void> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url })
  try {
    await client.connect()
  } catch (error) {
    throw new Error(
      `cannot connect to PostgreSQL at ${url}: ${(error as Error).message}; start it, or leave --postgres out`,
    )
  }
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${ALERTS_TABLE} (
        card text NOT NULL,
        rule text NOT NULL,
        tx_ids text NOT NULL,
        at timestamptz NOT NULL,
        detail text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now()
      )`,
    )
  } finally {
    await client.end()
  }
}

/** One row per alert; the transaction ids space-separated. */
export function alertsToPostgres(
  url: string,
  alerts: TopicDef<Alert>,
  name = 'fraud-alerts-to-postgres',
): Connector {
  return connect(name, {
    from: alerts,
    to: postgres<Alert>({
      url,
      table: ALERTS_TABLE,
      columns: (a) => ({ card: a.card, rule: a.rule, tx_ids: a.txIds.join(' '), at: a.at, detail: a.detail }),
    }),
  })
}
