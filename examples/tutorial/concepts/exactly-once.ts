/**
 * docs/concepts/exactly-once.md: the error policy and the guarantee of a consumer-group worker.
 * Type-checked only: tsc compiles it; nothing runs it.
 */
import { GroupRunner, type Pipeline, pipeline, topic } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'

export interface Entry {
  account: string
  cents: number
}

const entries = topic<Entry>('ledger-entries', { key: (e) => e.account })
const balances = topic<{ key: string; value: number }>('ledger-balances')

// #region policy
export function ledger(): Pipeline {
  // A bad entry must not be skipped: stop, commit nothing of the failing batch, and let an
  // operator fix the input; a restart retries it. The default is 'dead-letter'.
  const p = pipeline('ledger', { errors: { afterRetries: 'stop' } })
  p.from(entries)
    .keyed()
    .aggregate({ init: () => 0, add: (sum: number, e: Entry) => sum + e.cents }, { name: 'balance' })
    .to(balances)
  return p
}
// #endregion policy

// #region worker
export async function runWorker(): Promise<void> {
  const log = await openKafkaLog({ brokers: ['127.0.0.1:9092'] })
  const runner = new GroupRunner(log, [ledger()], {
    guarantee: 'exactly-once', // the default; 'at-least-once' skips transactions
    instanceId: 'ledger-1', // a restarted worker fences its predecessor's open transaction
    stateDir: '/var/lib/sluice/checkpoints', // local checkpoints: shorter restores
  })
  await runner.start()
  process.once('SIGTERM', () => runner.stop())
  await runner.run()
  await log.close()
}
// #endregion worker
