/**
 * The PostgreSQL event store (`pg`). Tables and the `es_append` function live in one schema
 * (default `sluice`), created by `migrate()` (migrations.ts, which also explains how the global
 * order stays safe for readers).
 *
 * An append is one call of `es_append` — one round trip, one transaction — unless inline
 * projections are configured: then BEGIN, es_append, each projection's writes, COMMIT, so the
 * read model changes with the events or not at all. Reads of the global order stop at the
 * transaction horizon (`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`): an event
 * is readable there once no older transaction can still commit. A transaction left open
 * anywhere in the cluster holds that horizon back (readers wait, they never skip).
 */
import pg from 'pg'
import { SluiceError } from '../../errors.ts'
import {
  ConcurrencyError,
  DuplicateEventIdError,
  SchemaMismatchError,
  storeClosedError,
  UnknownStreamError,
} from '../errors.ts'
import type { ProjectionStorage } from '../projections.ts'
import type {
  AppendOptions,
  AppendResult,
  Event,
  EventStore,
  EventStoreOptions,
  NewEvent,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
  WaitOptions,
} from '../types.ts'
import {
  checkReadAll,
  checkReadStream,
  checkStreamId,
  jsonProblem,
  type PreparedAppend,
  prepareAppend,
} from '../validate.ts'
import { LATEST_SCHEMA_VERSION, migrate, newerSchema, quoteSchema } from './migrations.ts'
import { PostgresProjectionStorage } from './projection-storage.ts'

/** A read model updated in the append's own transaction. */
export interface InlineProjection {
  name: string
  /** Only events of these types reach `apply` (default: all). */
  types?: readonly string[]
  /** Writes the read model with `client`, inside the append's transaction; throwing undoes the append. */
  apply(events: readonly RecordedEvent[], client: pg.ClientBase): Promise<void>
}

export interface PostgresEventStoreOptions extends EventStoreOptions {
  /** A connection string, pool settings, or a pool of your own (then `close()` leaves it open). */
  connection: string | pg.PoolConfig | pg.Pool
  /** Schema holding the tables (default `sluice`). */
  schema?: string
  /** Run `migrate()` when opening (default false: a missing or old schema is an error). */
  migrate?: boolean
  inlineProjections?: readonly InlineProjection[]
}

interface AppendRow {
  outcome: 'ok' | 'duplicate' | 'conflict' | 'duplicate_id'
  version: string
  first_position: string | null
  last_position: string | null
  created_ms: string | null
  event_id: string | null
  stream_id: string | null
}

/** An event as the read queries return it (json_agg rows). */
interface EventRow {
  position: number
  stream_id: string
  version: number
  event_id: string
  type: string
  data: unknown
  metadata: Record<string, unknown>
  ms: number
}

const EVENT_COLUMNS = `position, stream_id, version, event_id, type, data, metadata,
  floor(extract(epoch FROM created_at) * 1000)::bigint AS ms`

/**
 * Opens the store, checking (or with `migrate: true`, creating) its schema.
 * @example
 * const store = await openPostgresEventStore({ connection: 'postgres://postgres@127.0.0.1/app', migrate: true })
 */
export async function openPostgresEventStore(
  options: PostgresEventStoreOptions,
): Promise<PostgresEventStore> {
  const schema = options.schema ?? 'sluice'
  const s = quoteSchema(schema)
  const ownPool = !(options.connection instanceof pg.Pool)
  const pool =
    options.connection instanceof pg.Pool
      ? options.connection
      : new pg.Pool(
          typeof options.connection === 'string'
            ? { connectionString: options.connection }
            : { ...options.connection },
        )
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  if (ownPool) pool.on('error', () => {})
  try {
    if (options.migrate) await migrate(pool, { schema })
    await checkSchema(pool, s, schema)
  } catch (error) {
    if (ownPool) await pool.end().catch(() => {})
    throw error
  }
  return new PostgresEventStore(pool, ownPool, schema, options)
}

async function checkSchema(pool: pg.Pool, s: string, schema: string): Promise<void> {
  let version: number
  try {
    const { rows } = await pool.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${s}.es_migrations`,
    )
    version = rows[0]?.v ?? 0
  } catch (error) {
    if ((error as { code?: string }).code !== '42P01') throw error
    version = 0
  }
  if (version > LATEST_SCHEMA_VERSION) throw newerSchema(schema, version)
  if (version < LATEST_SCHEMA_VERSION) {
    throw new SchemaMismatchError(
      version === 0
        ? `there is no event store in schema "${schema}" of this database; create it with migrate() ` +
            '(or open with { migrate: true }, or run "sluice events migrate --postgres <url>")'
        : `event store schema "${schema}" is at version ${version}, this Sluice needs ${LATEST_SCHEMA_VERSION}; run migrate()`,
    )
  }
}

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres'
  readonly schema: string
  readonly pool: pg.Pool
  readonly #ownPool: boolean
  readonly #s: string
  readonly #options: PostgresEventStoreOptions
  readonly #appendSql: string
  #closed = false
  #projections: PostgresProjectionStorage | undefined
  readonly #pending = new Set<Promise<unknown>>()

  constructor(pool: pg.Pool, ownPool: boolean, schema: string, options: PostgresEventStoreOptions) {
    this.pool = pool
    this.#ownPool = ownPool
    this.schema = schema
    this.#s = quoteSchema(schema)
    this.#options = options
    this.#appendSql = `SELECT * FROM ${this.#s}.es_append($1, $2, $3, $4::text[], $5::text[], $6::jsonb[], $7::jsonb[])`
  }

  async append<E extends Event>(
    streamId: string,
    events: readonly NewEvent<E>[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    this.#assertOpen()
    const prepared = await prepareAppend(streamId, events as readonly NewEvent[], options, this.#options)
    this.#assertOpen()
    return this.#track(this.#append(prepared))
  }

  async #append(prepared: PreparedAppend): Promise<AppendResult> {
    const { expected, events } = prepared
    const values = [
      prepared.streamId,
      expected.kind,
      expected.kind === 'version' ? expected.version : null,
      events.map((e) => e.id),
      events.map((e) => e.type),
      events.map((e) => e.dataJson),
      events.map((e) => e.metadataJson),
    ]
    // A retry racing its own original can lose on the unique event id instead of finding the
    // original; the second attempt sees the original and answers it as a duplicate.
    for (let attempt = 0; ; attempt++) {
      try {
        const row = this.#options.inlineProjections?.length
          ? await this.#appendWithProjections(prepared, values)
          : (
              await this.pool.query<AppendRow>({
                name: `es_append:${this.schema}`,
                text: this.#appendSql,
                values,
              })
            ).rows[0]!
        return this.#result(prepared, row)
      } catch (error) {
        const e = error as { code?: string; constraint?: string }
        if (attempt === 0 && e.code === '23505' && e.constraint === 'es_events_event_id') continue
        throw error
      }
    }
  }

  async #appendWithProjections(prepared: PreparedAppend, values: unknown[]): Promise<AppendRow> {
    const client = await this.pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      try {
        const row = (
          await client.query<AppendRow>({ name: `es_append:${this.schema}`, text: this.#appendSql, values })
        ).rows[0]!
        if (row.outcome === 'ok') {
          const recorded = recordedOf(prepared, row)
          for (const projection of this.#options.inlineProjections ?? []) {
            const types = projection.types
            const selected = types ? recorded.filter((e) => types.includes(e.type)) : recorded
            if (selected.length > 0) await projection.apply(selected, client)
          }
        }
        await client.query('COMMIT')
        return row
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true
        })
        throw error
      }
    } finally {
      client.release(broken)
    }
  }

  #result(prepared: PreparedAppend, row: AppendRow): AppendResult {
    switch (row.outcome) {
      case 'conflict':
        throw new ConcurrencyError(prepared.streamId, prepared.expectedVersion, Number(row.version))
      case 'duplicate_id':
        throw new DuplicateEventIdError(row.event_id!, row.stream_id!, Number(row.version))
      default:
        return {
          nextExpectedVersion: Number(row.version),
          firstPosition: Number(row.first_position),
          lastPosition: Number(row.last_position),
          duplicate: row.outcome === 'duplicate',
        }
    }
  }

  async readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<RecordedEvent<E>[]> {
    this.#assertOpen()
    checkStreamId(streamId)
    const range = checkReadStream(options)
    const order = range.backward ? 'DESC' : 'ASC'
    const [low, high] = range.backward ? [1, range.from] : [range.from, range.to]
    const { rows } = await this.pool.query<{ stream_version: string | null; events: EventRow[] }>(
      `SELECT (SELECT version FROM ${this.#s}.es_streams WHERE stream_id = $1) AS stream_version,
              (SELECT coalesce(json_agg(e ORDER BY e.version ${order}), '[]')
                 FROM (SELECT ${EVENT_COLUMNS} FROM ${this.#s}.es_events
                        WHERE stream_id = $1 AND version BETWEEN $2 AND $3
                        ORDER BY version ${order} LIMIT $4) e) AS events`,
      [
        streamId,
        low,
        Math.min(high, Number.MAX_SAFE_INTEGER),
        range.maxCount === Infinity ? null : range.maxCount,
      ],
    )
    const row = rows[0]!
    if (row.stream_version === null) throw new UnknownStreamError(streamId)
    return row.events.map(toRecorded) as RecordedEvent<E>[]
  }

  async streamVersion(streamId: string): Promise<number> {
    this.#assertOpen()
    checkStreamId(streamId)
    const { rows } = await this.pool.query<{ version: string }>(
      `SELECT version FROM ${this.#s}.es_streams WHERE stream_id = $1`,
      [streamId],
    )
    return rows.length === 0 ? 0 : Number(rows[0]!.version)
  }

  /**
   * One statement, so one snapshot: the page below the horizon, and the last position below
   * it (how far a filtered read got when fewer than `limit` events matched).
   */
  async readAll(options?: ReadAllOptions): Promise<ReadAllPage> {
    this.#assertOpen()
    const { after, limit, types, streamPrefix } = checkReadAll(options)
    const filters: string[] = []
    const values: unknown[] = [after, limit]
    if (types) {
      values.push([...types])
      filters.push(`AND type = ANY ($${values.length}::text[])`)
    }
    if (streamPrefix) {
      values.push(`${streamPrefix.replace(/[\\%_]/g, '\\$&')}%`)
      filters.push(`AND stream_id LIKE $${values.length}`)
    }
    const { rows } = await this.pool.query<{ events: EventRow[]; head: string | null }>(
      `WITH horizon AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
       SELECT (SELECT coalesce(json_agg(e ORDER BY e.position), '[]')
                 FROM (SELECT ${EVENT_COLUMNS} FROM ${this.#s}.es_events
                        WHERE position > $1 AND transaction_id < (SELECT xmin FROM horizon) ${filters.join(' ')}
                        ORDER BY position LIMIT $2) e) AS events,
              (SELECT position FROM ${this.#s}.es_events
                WHERE transaction_id < (SELECT xmin FROM horizon)
                ORDER BY position DESC LIMIT 1) AS head`,
      values,
    )
    const row = rows[0]!
    const events = row.events.map(toRecorded)
    const position =
      events.length >= limit
        ? events.at(-1)!.position
        : Math.max(after, Number(row.head ?? 0), events.at(-1)?.position ?? 0)
    return { events, position }
  }

  async headPosition(): Promise<number> {
    this.#assertOpen()
    const { rows } = await this.pool.query<{ position: string }>(
      `SELECT position FROM ${this.#s}.es_events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY position DESC LIMIT 1`,
    )
    return rows.length === 0 ? 0 : Number(rows[0]!.position)
  }

  /** Polls the head with backoff (5 ms up to 100 ms): PostgreSQL has no cheaper exact signal. */
  async waitForEvents(position: number, options: WaitOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs
    let delay = 5
    while (!this.#closed && !options.signal?.aborted) {
      if ((await this.headPosition()) > position) return
      const left = deadline - Date.now()
      if (left <= 0) return
      await sleep(Math.min(delay, left), options.signal)
      delay = Math.min(delay * 2, 100)
    }
  }

  async readSnapshot<State = unknown>(streamId: string, name: string): Promise<Snapshot<State> | undefined> {
    this.#assertOpen()
    checkStreamId(streamId)
    const { rows } = await this.pool.query<{
      schema_version: number
      version: string
      state: State
      ms: string
    }>(
      `SELECT schema_version, version, state, floor(extract(epoch FROM created_at) * 1000)::bigint AS ms
         FROM ${this.#s}.es_snapshots WHERE stream_id = $1 AND name = $2`,
      [streamId, name],
    )
    const row = rows[0]
    if (!row) return undefined
    return {
      streamId,
      name,
      schemaVersion: row.schema_version,
      version: Number(row.version),
      state: row.state,
      timestamp: Number(row.ms),
    }
  }

  async writeSnapshot(snapshot: Omit<Snapshot, 'timestamp'>): Promise<void> {
    this.#assertOpen()
    checkStreamId(snapshot.streamId)
    const problem = jsonProblem(snapshot.state, 'state', 0, new Set())
    if (problem) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `a snapshot's state must be JSON: ${problem}`)
    }
    await this.pool.query(
      `INSERT INTO ${this.#s}.es_snapshots (stream_id, name, schema_version, version, state)
       VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (stream_id, name) DO UPDATE
         SET schema_version = excluded.schema_version, version = excluded.version,
             state = excluded.state, created_at = now()`,
      [
        snapshot.streamId,
        snapshot.name,
        snapshot.schemaVersion,
        snapshot.version,
        JSON.stringify(snapshot.state),
      ],
    )
  }

  async readCheckpoint(name: string): Promise<number | undefined> {
    this.#assertOpen()
    const { rows } = await this.pool.query<{ position: string }>(
      `SELECT position FROM ${this.#s}.es_checkpoints WHERE name = $1`,
      [name],
    )
    return rows.length === 0 ? undefined : Number(rows[0]!.position)
  }

  async writeCheckpoint(name: string, position: number): Promise<void> {
    this.#assertOpen()
    await writeCheckpointWith(this.pool, this.#s, name, position)
  }

  projections(): ProjectionStorage {
    this.#assertOpen()
    this.#projections ??= new PostgresProjectionStorage(this.pool, this.#s)
    return this.#projections
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#pending])
    if (this.#ownPool) await this.pool.end()
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p)
    const settle = () => this.#pending.delete(p)
    p.then(settle, settle)
    return p
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosedError(this.kind)
  }
}

export async function writeCheckpointWith(
  db: pg.Pool | pg.ClientBase,
  /** The quoted schema. */
  s: string,
  name: string,
  position: number,
): Promise<void> {
  await db.query(
    `INSERT INTO ${s}.es_checkpoints (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()`,
    [name, position],
  )
}

function recordedOf(prepared: PreparedAppend, row: AppendRow): RecordedEvent[] {
  const first = Number(row.first_position)
  const lastVersion = Number(row.version)
  const n = prepared.events.length
  const timestamp = Number(row.created_ms)
  // Positions of one append are consecutive: es_append reserves them under one lock.
  return prepared.events.map(
    (e, i) =>
      ({
        id: e.id,
        streamId: prepared.streamId,
        version: lastVersion - n + 1 + i,
        position: first + i,
        type: e.type,
        data: JSON.parse(e.dataJson),
        metadata: JSON.parse(e.metadataJson),
        timestamp,
      }) as RecordedEvent,
  )
}

function toRecorded(r: EventRow): RecordedEvent {
  return {
    id: r.event_id,
    streamId: r.stream_id,
    version: Number(r.version),
    position: Number(r.position),
    type: r.type,
    data: r.data,
    metadata: r.metadata,
    timestamp: Number(r.ms),
  } as RecordedEvent
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
