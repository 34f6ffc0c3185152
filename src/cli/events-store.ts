/**
 * What `sluice events` commands share: which event store they open (the embedded one in
 * --data-dir, or PostgreSQL with --postgres), and loading a user's module for --aggregate and
 * --module.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SluiceError } from '../errors.ts'
import type { Aggregate } from '../eventstore/aggregate.ts'
import { openEmbeddedEventStore } from '../eventstore/embedded/embedded-event-store.ts'
import { eventsDir } from '../eventstore/embedded/storage.ts'
import type { Projection } from '../eventstore/projections.ts'
import type { Event, EventStore } from '../eventstore/types.ts'
import { dataDirOf, UsageError } from './args.ts'

export const STORE_OPTIONS = {
  postgres: { type: 'string' },
  schema: { type: 'string' },
} as const

export const STORE_HELP = `  --postgres <url>  use the PostgreSQL event store at this connection string
                    (default: $SLUICE_EVENTS_POSTGRES, else the embedded store in --data-dir)
  --schema <name>   PostgreSQL schema of the event store (default: sluice)
  --data-dir <dir>  the embedded store lives in <dir>/events (default: $SLUICE_DATA_DIR or ./.sluice)
  -h, --help        show this help`

export interface StoreFlags {
  'data-dir'?: string | undefined
  postgres?: string | undefined
  schema?: string | undefined
}

/**
 * Opens the store the flags name, runs `fn`, and always closes it (the embedded store holds a
 * lock file the next command would otherwise have to take over). Commands that only read do
 * not create an embedded store where there is none.
 */
export async function withEventStore<T>(
  flags: StoreFlags,
  options: { create?: boolean; mode: 'read' | 'write' },
  fn: (store: EventStore) => Promise<T>,
): Promise<T> {
  const store = await openStore(flags, options)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

async function openStore(
  flags: StoreFlags,
  options: { create?: boolean; mode: 'read' | 'write' },
): Promise<EventStore> {
  const url = flags.postgres ?? (process.env.SLUICE_EVENTS_POSTGRES || undefined)
  if (url !== undefined) {
    // Loaded only when asked for: the embedded commands should not pay for `pg`.
    const { openPostgresEventStore } = await import('../eventstore/postgres/postgres-event-store.ts')
    return openPostgresEventStore({
      connection: { connectionString: url, max: 2 },
      ...(flags.schema ? { schema: flags.schema } : {}),
    })
  }
  const dataDir = dataDirOf(flags)
  if (!(options.create ?? false) && !existsSync(join(eventsDir(dataDir), 'events.mdb'))) {
    throw new SluiceError(
      'SLUICE_UNKNOWN_STREAM',
      `there is no event store in ${eventsDir(dataDir)} yet; append an event first ` +
        '(sluice events append <stream> ...) or pass the --data-dir that holds it',
    )
  }
  // Readers open read-only, so they work beside the process that writes (which holds the lock).
  return openEmbeddedEventStore({ dataDir, readOnly: options.mode === 'read' })
}

/**
 * Imports `<file>[#export]` and picks the export that `fits`: the named one, else the default
 * export, else the only export that fits. Errors say which exports were there.
 */
export async function importExport<T>(
  command: string,
  flag: string,
  spec: string,
  what: string,
  fits: (value: unknown) => value is T,
  pick?: (candidates: Array<[string, T]>) => [string, T] | undefined,
): Promise<T> {
  const hash = spec.lastIndexOf('#')
  const file = hash > 0 ? spec.slice(0, hash) : spec
  const name = hash > 0 ? spec.slice(hash + 1) : undefined
  const path = resolve(file)
  if (!existsSync(path)) throw new UsageError(command, `--${flag}: no file ${path}`)
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>
  if (name !== undefined) {
    const value = module[name]
    if (!fits(value))
      throw new UsageError(command, `--${flag}: ${file} has no export "${name}" that is ${what}`)
    return value
  }
  const candidates = Object.entries(module).filter((entry): entry is [string, T] => fits(entry[1]))
  const chosen =
    pick?.(candidates) ??
    candidates.find(([key]) => key === 'default') ??
    (candidates.length === 1 ? candidates[0] : undefined)
  if (!chosen) {
    throw new UsageError(
      command,
      candidates.length === 0
        ? `--${flag}: ${file} exports nothing that is ${what}`
        : `--${flag}: ${file} exports several (${candidates.map(([k]) => k).join(', ')}); pick one with ${file}#<export>`,
    )
  }
  return chosen[1]
}

export function isAggregate(value: unknown): value is Aggregate<unknown, Event, unknown> {
  const v = value as Partial<Aggregate<unknown, Event, unknown>> | null
  return (
    typeof v === 'object' && v !== null && typeof v.load === 'function' && typeof v.definition === 'object'
  )
}

export function isProjection(value: unknown): value is Projection {
  const v = value as Partial<Projection> | null
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.apply === 'function'
}
