/**
 * The PostgreSQL event store's schema, as numbered migrations. `migrate()` applies the ones a
 * database has not had yet, in order, in one transaction under an advisory lock: it is
 * idempotent, and two processes migrating at once do it once. The store refuses to open on a
 * schema older or newer than the one it was written for (SchemaMismatchError), so code and
 * tables never disagree silently.
 *
 * How the global order stays safe for readers (the heart of migration 1):
 *
 * A bigserial position is taken when a row is inserted but becomes visible when its
 * transaction commits, so position 8 can be visible while 7 is still in flight; a reader that
 * moves past 8 would skip 7 forever. Emmett's answer: record each event's transaction id
 * (`pg_current_xact_id()`) and let readers see only events whose transaction is older than
 * every transaction still running (`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`):
 * below that horizon, nothing can commit any more.
 *
 * That alone still leaves one gap: Emmett orders by (transaction id, position), because a
 * transaction with a smaller id may take its positions after one with a larger id. Then the
 * order readers see is not position order, and a checkpoint that is just a position can skip.
 * Here, `es_append` takes its transaction id and its positions together, inside a short
 * advisory lock (released at once, not held to commit), so transaction-id order and position
 * order are the same order. Readers then read `position > checkpoint` below the horizon, and:
 * if event p is visible, every event below p has a smaller transaction id, hence one below the
 * horizon too, so it is committed (visible) or rolled back (never will be). A reader can never
 * see p and later find something below it. Positions of rolled-back appends stay unused: holes
 * in the numbers, never in what a reader sees.
 */
import pg from 'pg'
import { SchemaMismatchError } from '../errors.ts'

export const LATEST_SCHEMA_VERSION = 2

/** Two-int advisory lock keys: this constant, and `hashtext(<schema>)`. */
export const LOCK_CLASS = 0x51_1c_e0

export interface Migration {
  version: number
  description: string
  /** `s` is the quoted schema (for names), `name` the plain one (for string literals). */
  sql(s: string, name: string): string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'streams, events, snapshots, checkpoints and es_append',
    sql: (s, name) => `
CREATE SEQUENCE ${s}.es_position AS bigint;

CREATE TABLE ${s}.es_streams (
  stream_id text COLLATE "C" PRIMARY KEY,
  version bigint NOT NULL CHECK (version > 0)
);

CREATE TABLE ${s}.es_events (
  position bigint PRIMARY KEY,
  transaction_id xid8 NOT NULL,
  stream_id text COLLATE "C" NOT NULL,
  version bigint NOT NULL,
  event_id text NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  CONSTRAINT es_events_stream_version UNIQUE (stream_id, version),
  CONSTRAINT es_events_event_id UNIQUE (event_id)
);
CREATE INDEX es_events_type_position ON ${s}.es_events (type, position);

CREATE TABLE ${s}.es_snapshots (
  stream_id text COLLATE "C" NOT NULL,
  name text NOT NULL,
  schema_version integer NOT NULL,
  version bigint NOT NULL,
  state jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_id, name)
);

CREATE TABLE ${s}.es_checkpoints (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- outcome: ok | duplicate (a retry: the original result) | conflict (version = the stream's)
--          | duplicate_id (event_id stored as stream_id/version by another append)
CREATE TYPE ${s}.es_append_result AS (
  outcome text,
  version bigint,
  first_position bigint,
  last_position bigint,
  created_ms bigint,
  event_id text,
  stream_id text
);

-- Answers an append whose ids are stored already: a retry of that very append (every id, in
-- this stream, at consecutive versions, in this order) gets the original result; any other
-- reuse of an id is refused. Returns no row when no id is stored.
CREATE FUNCTION ${s}.es_retried(p_stream text, p_ids text[])
RETURNS SETOF ${s}.es_append_result LANGUAGE plpgsql AS $fn$
DECLARE
  known record;
  r record;
  first_version bigint;
  first_position bigint;
  last_version bigint;
  last_position bigint;
  created bigint;
BEGIN
  SELECT e.event_id, e.stream_id, e.version INTO known
    FROM ${s}.es_events e WHERE e.event_id = ANY (p_ids) LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  FOR r IN
    SELECT u.ord, u.id, e.stream_id, e.version, e.position,
           floor(extract(epoch FROM e.created_at) * 1000)::bigint AS ms
      FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
      LEFT JOIN ${s}.es_events e ON e.event_id = u.id
     ORDER BY u.ord
  LOOP
    IF r.ord = 1 THEN
      first_version := r.version;
      first_position := r.position;
      created := r.ms;
    END IF;
    IF r.stream_id IS DISTINCT FROM p_stream OR r.version IS DISTINCT FROM first_version + r.ord - 1 THEN
      IF r.stream_id IS NOT NULL THEN
        RETURN QUERY SELECT 'duplicate_id', r.version, NULL::bigint, NULL::bigint, NULL::bigint, r.id, r.stream_id::text;
      ELSE
        RETURN QUERY SELECT 'duplicate_id', known.version, NULL::bigint, NULL::bigint, NULL::bigint,
                            known.event_id, known.stream_id::text;
      END IF;
      RETURN;
    END IF;
    last_version := r.version;
    last_position := r.position;
  END LOOP;
  RETURN QUERY SELECT 'duplicate', last_version, first_position, last_position, created, NULL::text, NULL::text;
END
$fn$;

-- Appends events to one stream. Must be the first write of its transaction (see the lock below).
CREATE FUNCTION ${s}.es_append(
  p_stream text,
  p_expected_kind text,   -- any | noStream | exists | version
  p_expected bigint,      -- the version, for kind 'version'
  p_ids text[],
  p_types text[],
  p_data jsonb[],
  p_metadata jsonb[]
) RETURNS SETOF ${s}.es_append_result LANGUAGE plpgsql AS $fn$
DECLARE
  n integer := cardinality(p_ids);
  current_version bigint;
  new_version bigint;
  tx_id xid8;
  positions bigint[];
  now_ts timestamptz;
BEGIN
  -- 1. A retry of a stored append gets its original result.
  RETURN QUERY SELECT * FROM ${s}.es_retried(p_stream, p_ids);
  IF FOUND THEN
    RETURN;
  END IF;

  -- 2. Refuse a stale expected version early, before taking a transaction id and positions.
  SELECT st.version INTO current_version FROM ${s}.es_streams st WHERE st.stream_id = p_stream;
  current_version := coalesce(current_version, 0);
  IF (p_expected_kind = 'noStream' AND current_version <> 0)
     OR (p_expected_kind = 'exists' AND current_version = 0)
     OR (p_expected_kind = 'version' AND current_version <> p_expected) THEN
    -- This statement may see an append that committed after step 1 looked: this very append,
    -- sent twice at once. Then it is a retry, not a conflict.
    RETURN QUERY SELECT * FROM ${s}.es_retried(p_stream, p_ids);
    IF FOUND THEN
      RETURN;
    END IF;
    RETURN QUERY SELECT 'conflict', current_version, NULL::bigint, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
    RETURN;
  END IF;

  -- 3. Take the transaction id and the positions together, alone: so transaction-id order is
  --    position order (see the top of migrations.ts). A transaction that already had an id
  --    would break that, so it is refused. The lock is a session lock released at once; the
  --    handler releases it on any error, cancellation included.
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'es_append must be the first write of its transaction'
      USING HINT = 'append in a transaction of its own, or call es_append before any other write';
  END IF;
  BEGIN
    PERFORM pg_advisory_lock(${LOCK_CLASS}, hashtext('${name}'));
    tx_id := pg_current_xact_id();
    SELECT array_agg(p ORDER BY p) INTO positions
      FROM (SELECT nextval('${s}.es_position') AS p FROM generate_series(1, n)) reserved;
    PERFORM pg_advisory_unlock(${LOCK_CLASS}, hashtext('${name}'));
  EXCEPTION WHEN query_canceled OR others THEN
    PERFORM pg_advisory_unlock(${LOCK_CLASS}, hashtext('${name}'));
    RAISE;
  END;

  -- 4. The version check that counts, under the stream row's lock: a concurrent append to the
  --    same stream waits here, then sees the new version (and fails its check).
  IF p_expected_kind = 'any' THEN
    INSERT INTO ${s}.es_streams AS st (stream_id, version) VALUES (p_stream, n)
      ON CONFLICT (stream_id) DO UPDATE SET version = st.version + n
      RETURNING st.version INTO new_version;
  ELSIF p_expected_kind = 'noStream' THEN
    INSERT INTO ${s}.es_streams AS st (stream_id, version) VALUES (p_stream, n)
      ON CONFLICT (stream_id) DO NOTHING
      RETURNING st.version INTO new_version;
  ELSIF p_expected_kind = 'exists' THEN
    UPDATE ${s}.es_streams AS st SET version = st.version + n
      WHERE st.stream_id = p_stream RETURNING st.version INTO new_version;
  ELSE
    UPDATE ${s}.es_streams AS st SET version = st.version + n
      WHERE st.stream_id = p_stream AND st.version = p_expected RETURNING st.version INTO new_version;
  END IF;
  IF new_version IS NULL THEN
    -- Another append won the race. It may have been this very append (a retry racing its
    -- original): this statement sees what committed meanwhile.
    RETURN QUERY SELECT * FROM ${s}.es_retried(p_stream, p_ids);
    IF FOUND THEN
      RETURN;
    END IF;
    SELECT st.version INTO current_version FROM ${s}.es_streams st WHERE st.stream_id = p_stream;
    RETURN QUERY SELECT 'conflict', coalesce(current_version, 0), NULL::bigint, NULL::bigint, NULL::bigint,
                        NULL::text, NULL::text;
    RETURN;
  END IF;

  -- 5. The events.
  now_ts := clock_timestamp();
  INSERT INTO ${s}.es_events
    (position, transaction_id, stream_id, version, event_id, type, data, metadata, created_at)
  SELECT positions[i], tx_id, p_stream, new_version - n + i, p_ids[i], p_types[i], p_data[i], p_metadata[i], now_ts
    FROM generate_series(1, n) AS i;
  RETURN QUERY SELECT 'ok', new_version, positions[1], positions[n],
                      floor(extract(epoch FROM now_ts) * 1000)::bigint, NULL::text, NULL::text;
END
$fn$;
`,
  },
  {
    version: 2,
    description: 'es_projections: documents of asynchronous projections',
    sql: (s) => `
CREATE TABLE ${s}.es_projections (
  projection text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  PRIMARY KEY (projection, key)
);
`,
  },
]

/** A schema name as SQL: lower-case letters, digits and `_`, quoted. */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(
      `schema "${schema}" is not a plain lower-case identifier (letters, digits, "_", at most 63); pick another name`,
    )
  }
  return `"${schema}"`
}

export interface MigrateResult {
  /** Schema version before and after. */
  from: number
  to: number
  applied: number[]
}

/**
 * Creates or upgrades the event store's tables in `schema` (default `sluice`). Safe to run at
 * every start, and from several processes at once.
 * @example
 * await migrate(pool, { schema: 'sluice' })
 */
export async function migrate(
  db: pg.Pool | pg.ClientBase,
  options: { schema?: string } = {},
): Promise<MigrateResult> {
  const schema = options.schema ?? 'sluice'
  const s = quoteSchema(schema)
  const pooled = db instanceof pg.Pool ? await db.connect() : undefined
  const client: pg.ClientBase = pooled ?? (db as pg.ClientBase)
  const release = () => pooled?.release()
  try {
    await client.query('BEGIN')
    try {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS + 1, schema])
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.es_migrations (
           version integer PRIMARY KEY,
           description text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      )
      const { rows } = await client.query<{ v: number | null }>(
        `SELECT max(version) AS v FROM ${s}.es_migrations`,
      )
      const from = rows[0]?.v ?? 0
      if (from > LATEST_SCHEMA_VERSION) {
        throw newerSchema(schema, from)
      }
      const applied: number[] = []
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue
        await client.query(m.sql(s, schema))
        await client.query(`INSERT INTO ${s}.es_migrations (version, description) VALUES ($1, $2)`, [
          m.version,
          m.description,
        ])
        applied.push(m.version)
      }
      await client.query('COMMIT')
      return { from, to: Math.max(from, LATEST_SCHEMA_VERSION), applied }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    }
  } finally {
    release()
  }
}

export function newerSchema(schema: string, version: number): SchemaMismatchError {
  return new SchemaMismatchError(
    `event store schema "${schema}" is at version ${version}, newer than this Sluice knows (${LATEST_SCHEMA_VERSION}); upgrade Sluice`,
  )
}
