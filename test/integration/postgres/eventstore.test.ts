/**
 * The event store on a real PostgreSQL (`npm run test:postgres`; $SLUICE_TEST_POSTGRES, default
 * postgres://postgres@127.0.0.1:5432/test): the conformance suite, then what is PostgreSQL's
 * own — migrations, and the late-commit problem the transaction horizon solves, shown with a
 * transaction held open on purpose.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, describe, test } from 'node:test'
import { promisify } from 'node:util'
import pg from 'pg'
import { LATEST_SCHEMA_VERSION, migrate } from '../../../src/eventstore/postgres/migrations.ts'
import { openPostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store.ts'
import type { RecordedEvent } from '../../../src/eventstore/types.ts'
import { eventStoreConformance } from '../../conformance/event-store.ts'
import { caughtUp, rejectsWith } from '../../conformance/event-store-helpers.ts'
import { dropTarget, POSTGRES_URL } from '../../conformance/event-store-target.ts'

let n = 0
const run = `${process.pid}_${Date.now().toString(36)}`
const schemaName = (what: string) => `es_${what}_${run}_${++n}`

eventStoreConformance('postgres', {
  async newTarget() {
    const config = { kind: 'postgres' as const, connection: POSTGRES_URL, schema: schemaName('conf') }
    return { config, cleanup: () => dropTarget(config) }
  },
  capabilities: { densePositions: false },
})

describe('PostgreSQL event store', () => {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 })
  const schemas: string[] = []
  const newSchema = (what: string) => {
    const s = schemaName(what)
    schemas.push(s)
    return s
  }
  after(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
    await admin.end()
  })

  test('migrate() is versioned and idempotent, also when run concurrently', async () => {
    const schema = newSchema('migrate')
    const results = await Promise.all([migrate(admin, { schema }), migrate(admin, { schema })])
    assert.deepEqual(
      results.map((r) => r.applied.join()).sort(),
      ['', '1,2'],
      'one of two concurrent runs migrates',
    )
    const again = await migrate(admin, { schema })
    assert.deepEqual(again, { from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION, applied: [] })
    const { rows } = await admin.query(`SELECT version FROM "${schema}".es_migrations ORDER BY version`)
    assert.deepEqual(
      rows.map((r) => r.version),
      [1, 2],
    )
  })

  test('a schema one version behind is refused until migrate() applies just the missing step', async () => {
    const schema = newSchema('upgrade')
    await migrate(admin, { schema })
    // Back to version 1, as a database migrated by an older Sluice would be.
    await admin.query(`DROP TABLE "${schema}".es_projections`)
    await admin.query(`DELETE FROM "${schema}".es_migrations WHERE version = 2`)
    await assert.rejects(openPostgresEventStore({ connection: POSTGRES_URL, schema }), (error) => {
      assert.ok(rejectsWith('SLUICE_SCHEMA_MISMATCH')(error))
      assert.match((error as Error).message, /at version 1, this Sluice needs 2; run migrate\(\)/)
      return true
    })
    assert.deepEqual(await migrate(admin, { schema }), { from: 1, to: 2, applied: [2] })
    const store = await openPostgresEventStore({ connection: POSTGRES_URL, schema })
    await store.close()
  })

  test('a missing, older or newer schema is a SchemaMismatchError saying what to do', async () => {
    const schema = newSchema('mismatch')
    await assert.rejects(openPostgresEventStore({ connection: POSTGRES_URL, schema }), (error) => {
      assert.ok(rejectsWith('SLUICE_SCHEMA_MISMATCH', 'SchemaMismatchError')(error))
      assert.match((error as Error).message, /no event store in schema .* migrate\(\)/)
      return true
    })
    await migrate(admin, { schema })
    await admin.query(
      `INSERT INTO "${schema}".es_migrations (version, description) VALUES (99, 'from the future')`,
    )
    await assert.rejects(openPostgresEventStore({ connection: POSTGRES_URL, schema }), (error) => {
      assert.ok(rejectsWith('SLUICE_SCHEMA_MISMATCH')(error))
      assert.match((error as Error).message, /version 99, newer than this Sluice knows .* upgrade Sluice/)
      return true
    })
    await assert.rejects(migrate(admin, { schema }), rejectsWith('SLUICE_SCHEMA_MISMATCH'))
  })

  test('an event that commits late is never skipped: readers wait at the horizon, then see it first', async () => {
    const schema = newSchema('horizon')
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let holding!: () => void
    const isHolding = new Promise<void>((resolve) => {
      holding = resolve
    })
    // An inline projection that stops the append's transaction mid-way, with its position taken.
    const store = await openPostgresEventStore({
      connection: POSTGRES_URL,
      schema,
      migrate: true,
      inlineProjections: [
        {
          name: 'hold',
          types: ['Slow'],
          async apply() {
            holding()
            await held
          },
        },
      ],
    })
    try {
      await store.append('warmup', [{ type: 'Fast', data: 0 }])
      await caughtUp(store, 1)
      const slow = store.append('slow', [{ type: 'Slow', data: 'late' }])
      await isHolding
      const fast = await store.append('fast', [{ type: 'Fast', data: 'early' }])
      const { rows } = await admin.query(
        `SELECT position FROM "${schema}".es_events WHERE stream_id = 'fast'`,
      )
      assert.equal(Number(rows[0].position), fast.lastPosition, 'the fast event is committed')
      const whileHeld = await store.readAll({ after: 1 })
      assert.deepEqual(whileHeld.events, [], 'the committed event waits behind the open transaction')
      assert.equal(whileHeld.position, 1, 'and the reader does not move past it')
      assert.equal(await store.headPosition(), 1)
      release()
      const slowResult = await slow
      assert.ok(slowResult.lastPosition < fast.lastPosition, 'the slow append took the earlier position')
      await caughtUp(store, fast.lastPosition)
      const { events } = await store.readAll({ after: 1 })
      assert.deepEqual(
        events.map((e: RecordedEvent) => e.data),
        ['late', 'early'],
        'the late commit comes first, nothing skipped',
      )
    } finally {
      release()
      await store.close()
    }
  })

  test('es_append refuses to run in a transaction that already has an id (that would break the order)', async () => {
    const schema = newSchema('guard')
    await migrate(admin, { schema })
    const client = await admin.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_current_xact_id()')
      await assert.rejects(
        client.query(
          `SELECT * FROM "${schema}".es_append('s', 'any', NULL, ARRAY['id-1'], ARRAY['T'], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb])`,
        ),
        /es_append must be the first write of its transaction/,
      )
      await client.query('ROLLBACK')
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".es_events`)
      assert.equal(rows[0].n, 0)
      const locks = await client.query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
      )
      assert.equal(locks.rows[0].n, 0, 'no advisory lock is left behind')
    } finally {
      client.release()
    }
  })

  test('an inline projection commits with the append, or the append does not happen', async () => {
    const schema = newSchema('inline')
    const store = await openPostgresEventStore({
      connection: POSTGRES_URL,
      schema,
      migrate: true,
      inlineProjections: [
        {
          name: 'totals',
          types: ['Deposited'],
          async apply(events, client) {
            for (const e of events) {
              const { amount } = e.data as { amount: number }
              if (amount < 0) throw new Error('negative deposit')
              await client.query(
                `INSERT INTO "${schema}".totals (account, total) VALUES ($1, $2)
                 ON CONFLICT (account) DO UPDATE SET total = totals.total + excluded.total`,
                [e.streamId, amount],
              )
            }
          },
        },
      ],
    })
    try {
      await admin.query(`CREATE TABLE "${schema}".totals (account text PRIMARY KEY, total integer NOT NULL)`)
      await store.append('acct-1', [
        { type: 'Deposited', data: { amount: 5 } },
        { type: 'Noted', data: {} },
        { type: 'Deposited', data: { amount: 7 } },
      ])
      await assert.rejects(
        store.append('acct-1', [{ type: 'Deposited', data: { amount: -1 } }]),
        /negative deposit/,
      )
      const { rows } = await admin.query(`SELECT total FROM "${schema}".totals WHERE account = 'acct-1'`)
      assert.equal(rows[0].total, 12)
      assert.equal(await store.streamVersion('acct-1'), 3, 'the refused projection undid its append')
    } finally {
      await store.close()
    }
  })

  test('sluice events on PostgreSQL: migrate, append, read, state', async () => {
    const schema = newSchema('cli')
    const main = new URL('../../../src/cli/main.ts', import.meta.url).pathname
    const run = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [main, 'events', ...args, '--postgres', POSTGRES_URL, '--schema', schema],
        {
          timeout: 60_000,
        },
      )
    const missing = await run('read', 'cart-1').catch((error: { code: number; stderr: string }) => error)
    assert.equal((missing as { code: number }).code, 1)
    assert.match(
      (missing as { stderr: string }).stderr,
      /no event store in schema .*"sluice events migrate --postgres/,
    )
    const migrated = JSON.parse((await run('migrate')).stdout)
    assert.deepEqual(migrated, { from: 0, to: LATEST_SCHEMA_VERSION, applied: [1, 2] })
    await run(
      'append',
      'cart-1',
      '--type',
      'Opened',
      '--data',
      '{"owner":"ada"}',
      '--expected-version',
      'noStream',
    )
    const conflict = await run(
      'append',
      'cart-1',
      '--type',
      'Opened',
      '--expected-version',
      'noStream',
    ).catch((error: { code: number; stderr: string }) => error)
    assert.equal((conflict as { code: number }).code, 1)
    assert.match((conflict as { stderr: string }).stderr, /is at version 1/)
    const read = (await run('read', 'cart-1')).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(
      read.map((e: RecordedEvent) => [e.version, e.type, e.data]),
      [[1, 'Opened', { owner: 'ada' }]],
    )
    const state = JSON.parse((await run('state', 'cart-1', '--as-of-version', '1')).stdout)
    assert.equal(state.version, 1)
  })
})
