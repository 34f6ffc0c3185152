/**
 * The LMDB environment of the embedded event store: `<dataDir>/events/events.mdb`, its own
 * environment beside the log's (`<dataDir>/log.mdb`), which the log owns.
 *
 * Sub-databases (keys in lmdb's ordered-binary encoding, so numbers and [string, number]
 * arrays sort as values):
 *   events      position                  → the event as JSON text (see encodeEvent)
 *   streams     streamId                  → current version
 *   streamIndex [streamId, version]        → position
 *   ids         eventId                   → position (idempotent retries)
 *   snapshots   [streamId, name]          → Snapshot (msgpack)
 *   checkpoints name                      → position
 *   projections "<projection>\0<key>"     → a projection's document, as JSON text
 *   meta        'format' → FORMAT_VERSION, 'head' → last position
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'
import type { Durability } from '../../log/embedded/storage.ts'
import type { Snapshot } from '../types.ts'

/** Bumped when the layout above changes; a store of another format is refused at open. */
export const FORMAT_VERSION = 1

export interface EventStorage {
  env: RootDatabase
  events: Database<string, number>
  streams: Database<number, string>
  streamIndex: Database<number, [string, number]>
  ids: Database<number, string>
  snapshots: Database<Snapshot, [string, string]>
  checkpoints: Database<number, string>
  projections: Database<string, string>
  meta: Database<number, string>
}

export function eventsDir(dataDir: string): string {
  return join(dataDir, 'events')
}

export function openEventStorage(dir: string, durability: Durability, readOnly = false): EventStorage {
  if (!readOnly) mkdirSync(dir, { recursive: true })
  const env = open({
    path: join(dir, 'events.mdb'),
    readOnly,
    // As the log (log/embedded/storage.ts): `sync` acknowledges after the flush; both survive
    // a process crash, since committed pages are in the OS page cache.
    ...(durability === 'sync' ? { overlappingSync: true } : { noSync: true, overlappingSync: false }),
    separateFlushed: true,
    maxDbs: 8,
    mapSize: 1024 ** 3,
    compression: false,
  })
  return {
    env,
    events: env.openDB<string, number>('events', { encoding: 'string' }),
    streams: env.openDB<number, string>('streams', { encoding: 'msgpack' }),
    streamIndex: env.openDB<number, [string, number]>('streamIndex', { encoding: 'msgpack' }),
    ids: env.openDB<number, string>('ids', { encoding: 'msgpack' }),
    snapshots: env.openDB<Snapshot, [string, string]>('snapshots', { encoding: 'msgpack' }),
    checkpoints: env.openDB<number, string>('checkpoints', { encoding: 'msgpack' }),
    projections: env.openDB<string, string>('projections', { encoding: 'string' }),
    meta: env.openDB<number, string>('meta', { encoding: 'msgpack' }),
  }
}

/**
 * An event as stored: JSON text assembled from the already-serialised data and metadata (the
 * append validated them as strict JSON), so reading back goes through the same JSON rules as
 * PostgreSQL's jsonb and the two stores return equal values.
 */
export function encodeEvent(
  e: { id: string; type: string; dataJson: string; metadataJson: string },
  streamId: string,
  version: number,
  timestamp: number,
): string {
  return `{"i":${JSON.stringify(e.id)},"s":${JSON.stringify(streamId)},"v":${version},"t":${JSON.stringify(e.type)},"ts":${timestamp},"d":${e.dataJson},"m":${e.metadataJson}}`
}

export interface StoredEvent {
  i: string
  s: string
  v: number
  t: string
  ts: number
  d: unknown
  m: Record<string, unknown>
}
