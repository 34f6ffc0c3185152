/**
 * Where a conformance run keeps its event store, as plain JSON: the suite's own process and the
 * child it kills with SIGKILL (event-store-crash-child.ts) open the same store from it.
 */
import pg from 'pg'
import { openEmbeddedEventStore } from '../../src/eventstore/embedded/embedded-event-store.ts'
import { openPostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts'
import type { EventStore, EventStoreOptions } from '../../src/eventstore/types.ts'

export type StoreConfig =
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'postgres'; connection: string; schema: string }

export const POSTGRES_URL = process.env.SLUICE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Opens the store a config names. `connections` caps a PostgreSQL store's pool: the
 * concurrent-writer tests open one store per writer with one connection each.
 */
export async function openTarget(
  config: StoreConfig,
  options: EventStoreOptions & { connections?: number } = {},
): Promise<EventStore> {
  const { connections, ...storeOptions } = options
  if (config.kind === 'embedded') return openEmbeddedEventStore({ ...storeOptions, dataDir: config.dataDir })
  return openPostgresEventStore({
    ...storeOptions,
    connection: { connectionString: config.connection, max: connections ?? 10 },
    schema: config.schema,
    migrate: true,
  })
}

/** Drops a PostgreSQL target's schema (tests clean up after themselves). */
export async function dropTarget(config: StoreConfig): Promise<void> {
  if (config.kind !== 'postgres') return
  const client = new pg.Client({ connectionString: config.connection })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${config.schema}" CASCADE`)
  } finally {
    await client.end()
  }
}
