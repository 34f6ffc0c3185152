/**
 * The pipeline and input of the engine exactly-once crash test, shared by the parent test
 * (input generation, expected results, reading the outputs back) and the child it kills.
 *
 * Input: INPUT_RECORDS deterministic records `{ user, amount, at }`, keyed by user, event time
 * `at` increasing with the record number, so event time never goes back inside a partition.
 * Pipeline (two subtopologies):
 *   input ─┬─ keyBy(user) ─ tumbling(WINDOW_MS) ─ aggregate count + sum ("per-user") ─ to(output)
 *          └─ filter(amount > 90) ─ map ─ to(big)                              (stateless)
 * The source watermark never goes idle (idleAfter 1h), so what closes when depends on the
 * input only, never on timing: a killed-and-restarted run must produce exactly what a clean
 * run produces, record for record and in the same order per partition.
 */
import { type EmbeddedLog, Pipeline, partitionForKey, topic, tumbling, type Windowed } from 'sluice'

export const INPUT_RECORDS = 1_000_000
export const PARTITIONS = 4
export const USERS = 200
/** Event-time step between consecutive input records (ms). */
export const STEP_MS = 5
export const WINDOW_MS = 10_000
export const PIPELINE = 'crash-agg'
export const INPUT = 'input'
export const OUTPUT = 'output'
export const BIG = 'big'

export interface Txn {
  user: string
  amount: number
  at: number
}

export interface Totals {
  count: number
  sum: number
}

export interface BigTxn {
  user: string
  amount: number
  at: number
  big: true
}

export function txn(i: number): Txn {
  return { user: `u${i % USERS}`, amount: i % 97, at: i * STEP_MS }
}

export function buildPipeline(): Pipeline {
  const input = topic<Txn>(INPUT, { partitions: PARTITIONS, timestamp: (t) => t.at })
  const output = topic<Windowed<Totals>>(OUTPUT)
  const big = topic<BigTxn>(BIG)
  const p = new Pipeline(PIPELINE)
  const txns = p.from(input, { watermark: { idleAfter: '1h' } })
  txns
    .keyBy((t) => t.user)
    .window(tumbling({ size: WINDOW_MS }))
    .aggregate<Totals>(
      {
        init: () => ({ count: 0, sum: 0 }),
        add: (a, t) => ({ count: a.count + 1, sum: a.sum + t.amount }),
      },
      { name: 'per-user' },
    )
    .to(output)
  txns
    .filter((t) => t.amount > 90)
    .map((t): BigTxn => ({ user: t.user, amount: t.amount, at: t.at, big: true }))
    .to(big)
  return p
}

/** Writes the whole input, partitioned by key, in large appends. */
export async function generateInput(log: EmbeddedLog, n = INPUT_RECORDS): Promise<void> {
  if (!(await log.hasTopic(INPUT))) await log.createTopic(INPUT, { partitions: PARTITIONS })
  const keys = Array.from({ length: USERS }, (_, u) => Buffer.from(`u${u}`))
  const partitionOfUser = keys.map((k) => partitionForKey(k, PARTITIONS))
  const CHUNK = 100_000
  for (let from = 0; from < n; from += CHUNK) {
    const parts = Array.from(
      { length: PARTITIONS },
      () => [] as Array<{ key: Buffer; value: Buffer; timestamp: number }>,
    )
    for (let i = from; i < Math.min(n, from + CHUNK); i++) {
      const t = txn(i)
      const u = i % USERS
      parts[partitionOfUser[u]!]!.push({
        key: keys[u]!,
        value: Buffer.from(JSON.stringify(t)),
        timestamp: t.at,
      })
    }
    await Promise.all(
      parts.map((records, partition) => log.appendBatch({ topic: INPUT, partition }, records)),
    )
  }
}
