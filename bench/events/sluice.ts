/** Sluice's embedded (LMDB) and PostgreSQL event stores as bench targets. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { aggregate } from '../../src/eventstore/aggregate.ts'
import { openEmbeddedEventStore } from '../../src/eventstore/embedded/embedded-event-store.ts'
import { openPostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts'
import type { Event, EventStore } from '../../src/eventstore/types.ts'
import {
  type BenchEvent,
  type BenchStore,
  evolveTotals,
  initialTotals,
  type OrderTotals,
  type Target,
} from './bench-store.ts'

type OrderLine = Event<string, BenchEvent['data']>

function totals(snapshotEvery: number | undefined) {
  return aggregate<OrderTotals, OrderLine, { events: BenchEvent[] }>({
    name: 'order-totals',
    initialState: initialTotals,
    evolve: evolveTotals,
    decide: (command) => command.events,
    ...(snapshotEvery === undefined ? {} : { snapshot: { every: snapshotEvery, schemaVersion: 1 } }),
  })
}
// Loads without a snapshot policy never read a snapshot: the fold starts at version 1.
const plain = totals(undefined)

function adapt(store: EventStore): BenchStore {
  return {
    snapshots: true,
    async append(streamId, events, expected) {
      const r = await store.append(
        streamId,
        events,
        expected === undefined ? {} : { expectedVersion: expected },
      )
      return r.nextExpectedVersion
    },
    async readAll(pageSize) {
      let after = 0
      let read = 0
      for (;;) {
        const page = await store.readAll({ after, limit: pageSize })
        read += page.events.length
        after = page.position
        if (page.events.length < pageSize) return read
      }
    },
    async writeAggregate(streamId, sizes, snapshotEvery) {
      // `handle` is how an application writes: load, decide, append with the loaded version,
      // and a snapshot whenever the stream crosses a multiple of `snapshotEvery`.
      const writer = totals(snapshotEvery)
      for (const [k, size] of sizes.entries()) {
        const events = Array.from({ length: size }, (_, i) => ({
          type: 'OrderLine',
          data: { order: streamId, amount: (k * 100 + i) % 1000, currency: 'EUR', note: 'x'.repeat(40) },
        }))
        const handled = await writer.handle(store, streamId, { events })
        if (handled.snapshotError) throw handled.snapshotError
      }
    },
    async load(streamId, fromSnapshot) {
      // The policy's `every` does not matter to a load: only its schemaVersion must match.
      const loaded = await (fromSnapshot ? totals(1) : plain).load(store, streamId)
      return { version: loaded.version, replayed: loaded.replayed, state: loaded.state }
    },
  }
}

/** The name of Sluice PostgreSQL's rows: Emmett's rows are compared with these. */
export const SLUICE_POSTGRES = 'Sluice PostgreSQL'

export function embeddedTarget(): Target {
  let dir = ''
  let store: EventStore | undefined
  const open = async () => {
    if (!store) {
      dir = mkdtempSync(join(tmpdir(), 'sluice-bench-events-'))
      store = await openEmbeddedEventStore({ dataDir: dir })
    }
    return adapt(store)
  }
  return {
    name: 'Sluice embedded (LMDB, durability sync)',
    open,
    // One store owns the data directory: concurrent writers share it (its appends are grouped).
    async writers(n) {
      const one = await open()
      return Array.from({ length: n }, () => one)
    },
    async cleanup() {
      await store?.close()
      store = undefined
      if (dir) rmSync(dir, { recursive: true, force: true })
      dir = ''
    },
  }
}

export function postgresTarget(url: string): Target {
  let n = 0
  let schema: string | undefined
  const opened: EventStore[] = []
  const open = async (connections = 1) => {
    schema ??= `bench_events_${process.pid}_${++n}`
    const store = await openPostgresEventStore({
      connection: { connectionString: url, max: connections },
      schema,
      migrate: true,
    })
    opened.push(store)
    return adapt(store)
  }
  return {
    name: SLUICE_POSTGRES,
    open,
    // One store, hence one connection, per writer: the appends commit in parallel.
    async writers(k) {
      const stores: BenchStore[] = []
      for (let i = 0; i < k; i++) stores.push(await open(1))
      return stores
    },
    async cleanup() {
      await Promise.all(opened.splice(0).map((s) => s.close()))
      if (schema === undefined) return
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      } finally {
        await client.end()
      }
      schema = undefined
    },
  }
}
