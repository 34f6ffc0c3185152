/**
 * Emmett's PostgreSQL event store (`@event-driven-io/emmett-postgresql`, from npm) as a bench
 * target, so the same workloads run on it in the same process as Sluice's stores.
 *
 * Each workload gets a database of its own (`sluice_bench_emmett_<pid>_<n>`), dropped by
 * `cleanup`: Emmett's tables (`emt_*`, in `public`) never meet Sluice's, and every workload
 * starts from empty tables, as Sluice's do (a fresh schema each).
 *
 * The pg.Pool is ours, handed to Emmett through dumbo as an ambient pool, so the run decides
 * how many connections Emmett gets and can end the pool itself before dropping the database.
 */
import pg from 'pg'
import {
  type BenchEvent,
  type BenchStore,
  type Expected,
  evolveTotals,
  initialTotals,
  type OrderTotals,
  type Target,
} from './bench-store.ts'

/** The name of Emmett's rows in the table. */
export const EMMETT = 'Emmett (PostgreSQL)'

type EmmettModule = typeof import('@event-driven-io/emmett-postgresql')
type DumboModule = typeof import('@event-driven-io/dumbo')

/** Loaded on first use: a missing or changed package fails the Emmett rows, not the run. */
async function modules(): Promise<{ emmett: EmmettModule; dumbo: DumboModule }> {
  try {
    return {
      emmett: await import('@event-driven-io/emmett-postgresql'),
      dumbo: await import('@event-driven-io/dumbo'),
    }
  } catch (error) {
    throw new Error(
      `cannot load @event-driven-io/emmett-postgresql (${(error as Error).message}); install it with npm, or run with --only embedded,postgres`,
    )
  }
}

export function emmettTarget(url: string): Target {
  let n = 0
  let database: string | undefined
  let pool: pg.Pool | undefined
  let store: BenchStore | undefined
  let closeStore: (() => Promise<void>) | undefined

  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  }

  const open = async (connections = 1): Promise<BenchStore> => {
    if (store) return store
    const { emmett, dumbo } = await modules()
    database = `sluice_bench_emmett_${process.pid}_${++n}`
    const name = database
    await admin((c) => c.query(`CREATE DATABASE "${name}"`))
    const dbUrl = new URL(url)
    dbUrl.pathname = `/${database}`
    const connectionString = dbUrl.toString()
    pool = new pg.Pool({ connectionString, max: connections })
    const mine = pool
    // pool.end() resolves before its clients' sockets close, so DROP DATABASE … WITH (FORCE) can
    // still reach one as "terminating connection": expected then; before it, worth a line.
    pool.on('error', (error) => {
      if (!mine.ending) process.stderr.write(`Emmett: an idle connection failed: ${error.message}\n`)
    })
    const db = dumbo.dumbo({ connectionString, pool })
    const es = emmett.getPostgreSQLEventStore(connectionString, { connectionOptions: { dumbo: db } })
    closeStore = () => es.close()
    // Emmett creates its schema on first use; do it here so no workload times the migration.
    await es.schema.migrate()
    const version = (expected: Expected): bigint | undefined =>
      expected === undefined ? undefined : expected === 'noStream' ? 0n : BigInt(expected)
    store = {
      snapshots: false,
      async append(streamId, events, expected) {
        const v = version(expected)
        const r = await es.appendToStream<BenchEvent>(
          streamId,
          events,
          v === undefined ? undefined : { expectedStreamVersion: v },
        )
        return Number(r.nextExpectedStreamVersion)
      },
      async readAll(pageSize) {
        let after = 0n
        let read = 0
        for (;;) {
          const page = await emmett.readMessagesBatch(db.execute, { after, batchSize: pageSize })
          read += page.messages.length
          after = page.currentGlobalPosition
          if (page.messages.length < pageSize) return read
        }
      },
      async writeAggregate(streamId, sizes) {
        let expected = 0n
        for (const [k, size] of sizes.entries()) {
          const events = Array.from({ length: size }, (_, i) => ({
            type: 'OrderLine',
            data: { order: streamId, amount: (k * 100 + i) % 1000, currency: 'EUR', note: 'x'.repeat(40) },
          }))
          const r = await es.appendToStream<BenchEvent>(streamId, events, { expectedStreamVersion: expected })
          expected = r.nextExpectedStreamVersion
        }
      },
      async load(streamId, fromSnapshot) {
        if (fromSnapshot) throw new Error('Emmett has no built-in snapshots')
        const r = await es.aggregateStream<OrderTotals, BenchEvent>(streamId, {
          evolve: evolveTotals,
          initialState: initialTotals,
        })
        const version = Number(r.currentStreamVersion)
        return { version, replayed: version, state: r.state }
      },
    }
    return store
  }

  return {
    name: EMMETT,
    open,
    // One store on a pool of `n` connections: Emmett's way to take concurrent writers.
    writers: async (k) => {
      const one = await open(k)
      return Array.from({ length: k }, () => one)
    },
    async cleanup() {
      await closeStore?.()
      await pool?.end()
      store = undefined
      closeStore = undefined
      pool = undefined
      if (database === undefined) return
      const name = database
      database = undefined
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    },
  }
}
