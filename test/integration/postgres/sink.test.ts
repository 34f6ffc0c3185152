/**
 * The PostgreSQL sink on the embedded log, driven by the ConnectorRunner, against the real
 * server: inserts and upserts land exactly, positions live in PostgreSQL and win over the
 * consumer group's, a stale writer is fenced, and bad tables, columns and rows fail or are set
 * aside as documented (docs/connectors/postgres.md).
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import pg from 'pg'
import type { SinkConnector } from '../../../src/connectors/connect.ts'
import { postgres } from '../../../src/connectors/postgres/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import {
  type Sink,
  type SinkBatch,
  type SinkContext,
  StalePositionError,
} from '../../../src/connectors/types.ts'
import { topic } from '../../../src/dsl/topic.ts'
import type { EmbeddedLog } from '../../../src/log/index.ts'
import { readTopic } from '../../helpers/connector-log.ts'
import { ADMIN_URL, produce, testDatabase, testLog, until } from './pg-helpers.ts'

interface Alert {
  id: number
  card: string
  amount: number
  at?: string
  tags?: string[]
  meta?: Record<string, unknown>
  note?: string | null
}

const db = await testDatabase()
const log = await testLog()
const runners: ConnectorRunner[] = []
after(() => Promise.all(runners.map((r) => r.stop())))

function start<T>(name: string, topicName: string, sink: Sink<T>): ConnectorRunner {
  const connector: SinkConnector<T> = { kind: 'sink', name, topic: topic<T>(topicName), sink }
  const runner = new ConnectorRunner(log, [connector])
  runners.push(runner)
  runner.start()
  return runner
}

async function endOffsets(l: EmbeddedLog, name: string): Promise<Map<number, number>> {
  const d = await l.describeTopic(name)
  return new Map(d.partitionDetails.map((p) => [p.partition, p.endOffset]))
}

async function stored(connector: string): Promise<Map<number, number>> {
  // The sink creates the table at open(), which may not have happened yet.
  const rows = await db
    .query<{ partition: number; next_offset: string }>(
      `SELECT partition, next_offset FROM sluice_sink_offsets WHERE connector = $1
      AND to_regclass('sluice_sink_offsets') IS NOT NULL`,
      [connector],
    )
    .catch((e: { code?: string }) => {
      if (e.code === '42P01') return []
      throw e
    })
  return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]))
}

/** Dead letters of a connector: status count, and its dead-letter topic must not exist. */
async function deadLetters(runner: ConnectorRunner, connector: string): Promise<number> {
  return runner.status()[0]!.deadLetters + (await readTopic(log, `${connector}-dlq`)).length
}

/** A SinkContext for driving a sink by hand; dead letters are collected. */
function handContext(connector: string, dead: string[] = []): SinkContext {
  return {
    connector,
    topic: `${connector}-topic`,
    partitions: 2,
    signal: new AbortController().signal,
    deadLetter: async (records, error) => {
      for (const r of records) dead.push(`${r.partition}:${r.offset} ${error}`)
    },
  }
}

/** Waits until the sink's stored positions reach the end of every partition of the topic. */
async function drained(connector: string, topicName: string): Promise<void> {
  const ends = await endOffsets(log, topicName)
  await until(async () => {
    const at = await stored(connector)
    return [...ends].every(([p, end]) => at.get(p) === end)
  }, `${connector} to write all of ${topicName}`)
}

const alert = (i: number): Alert => ({
  id: i,
  card: `card-${i % 17}`,
  amount: (i * 37) % 1000,
  at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  tags: i % 3 === 0 ? ['big', `t${i % 5}`] : [],
  meta: { n: i, even: i % 2 === 0 },
})

describe('postgres sink', () => {
  test('appends every record once, as the row it maps to, and resumes from its own positions', async () => {
    await db.query(`CREATE TABLE alerts (id int NOT NULL, card text NOT NULL, amount double precision,
      at timestamptz, tags text[], meta jsonb, note text DEFAULT 'none', written_at timestamptz DEFAULT now())`)
    await log.createTopic('alerts', { partitions: 2 })
    const first = Array.from({ length: 2_500 }, (_, i) => alert(i))
    await produce(log, 'alerts', first, (a) => a.id % 2)
    const sink = () => postgres<Alert>({ url: db.url, table: 'alerts', batchSize: 300 })
    const runner = start('alerts-append', 'alerts', sink())
    await drained('alerts-append', 'alerts')
    await runner.stop()

    // The consumer group's offsets are not the truth for an exactly-once sink: rewind them to
    // 0 and the sink must still resume from the positions stored beside the rows.
    await log.commitOffsets('sluice-connect.alerts-append', [
      { topic: 'alerts', partition: 0, offset: 0 },
      { topic: 'alerts', partition: 1, offset: 0 },
    ])
    const second = Array.from({ length: 500 }, (_, i) => alert(2_500 + i))
    await produce(log, 'alerts', second, (a) => a.id % 2)
    const again = start('alerts-append', 'alerts', sink())
    await drained('alerts-append', 'alerts')
    await again.stop()

    const rows = await db.query<Alert & { at: Date; note: string }>(
      'SELECT id, card, amount, at, tags, meta, note FROM alerts ORDER BY id',
    )
    assert.equal(rows.length, 3_000)
    const expected = [...first, ...second]
    for (const [i, row] of rows.entries()) {
      const want = expected[i]!
      assert.deepEqual(
        { ...row, at: row.at.toISOString() },
        { ...want, note: 'none' },
        `row ${i} is the record it came from`,
      )
    }
    assert.deepEqual(await stored('alerts-append'), await endOffsets(log, 'alerts'))
    assert.equal(runner.status()[0]!.errors + again.status()[0]!.errors, 0)
    assert.equal(await deadLetters(runner, 'alerts-append'), 0)
    assert.equal(await deadLetters(again, 'alerts-append'), 0)
  })

  test('upserts: the last record per key wins, also within one batch, and absent fields stay as they were', async () => {
    // amount and seen may be NULL: PostgreSQL checks NOT NULL on the proposed row before
    // ON CONFLICT, so a record leaving out a NOT NULL column cannot update either.
    await db.query(`CREATE TABLE balances (card text PRIMARY KEY, amount int, seen int,
      note text DEFAULT 'new')`)
    await log.createTopic('balances', { partitions: 2 })
    // 40 cards, 3,000 updates: every batch of 500 holds each card many times.
    const updates = Array.from({ length: 3_000 }, (_, i) => ({
      card: `c${i % 40}`,
      amount: (i * 7919) % 10_000,
      seen: i,
    }))
    const partitionOf = (u: { card: string }) => Number(u.card.slice(1)) % 2
    await produce(log, 'balances', updates, partitionOf)
    const runner = start(
      'balances-upsert',
      'balances',
      postgres<{ card: string; amount?: number; seen?: number; note?: string }>({
        url: db.url,
        table: 'balances',
        key: ['card'],
        batchSize: 500,
      }),
    )
    await drained('balances-upsert', 'balances')
    // Notes only, for the even cards: amount and seen must keep their values.
    const notes = Array.from({ length: 20 }, (_, i) => ({ card: `c${i * 2}`, note: `note ${i * 2}` }))
    await produce(log, 'balances', notes, partitionOf)
    await drained('balances-upsert', 'balances')
    await runner.stop()

    const last = new Map<string, { card: string; amount: number; seen: number; note: string }>()
    for (const u of updates) last.set(u.card, { ...u, note: 'new' })
    for (const n of notes) last.get(n.card)!.note = n.note
    const rows = await db.query('SELECT card, amount, seen, note FROM balances ORDER BY seen')
    assert.deepEqual(
      rows,
      [...last.values()].sort((a, b) => a.seen - b.seen),
    )
    assert.equal(runner.status()[0]!.errors, 0, runner.status()[0]!.lastError)
    assert.equal(await deadLetters(runner, 'balances-upsert'), 0)
  })

  test('a columns function maps values and record metadata; schema-qualified tables', async () => {
    await db.query('CREATE SCHEMA "Audit"')
    await db.query('CREATE TABLE "Audit"."Events" ("Kind" text, part int, "offset" bigint, k text)')
    await log.createTopic('events', { partitions: 1 })
    const values = Array.from({ length: 50 }, (_, i) => ({ kind: i % 2 ? 'odd' : 'even' }))
    await produce(log, 'events', values, () => 0)
    const runner = start(
      'events-mapped',
      'events',
      postgres<{ kind: string }>({
        url: db.url,
        table: 'Audit.Events',
        columns: (v, r) => ({ Kind: v.kind.toUpperCase(), part: r.partition, offset: r.offset }),
      }),
    )
    await drained('events-mapped', 'events')
    await runner.stop()
    const rows = await db.query(
      'SELECT "Kind", part, "offset"::int, k FROM "Audit"."Events" ORDER BY "offset"',
    )
    assert.deepEqual(
      rows,
      values.map((v, i) => ({ Kind: v.kind.toUpperCase(), part: 0, offset: i, k: null })),
    )
  })

  test('fencing: a writer whose positions are stale gets StalePositionError and writes nothing', async () => {
    await db.query('CREATE TABLE fenced (id int, writer text)')
    const batch = (
      writer: string,
      partition: number,
      from: number,
      to: number,
    ): SinkBatch<{ id: number; writer: string }> => ({
      records: Array.from({ length: to - from }, (_, i) => ({
        value: { id: from + i, writer },
        key: null,
        partition,
        offset: from + i,
        timestamp: 0,
        headers: {},
      })),
      positions: new Map([[partition, { from, to }]]),
    })
    const a = postgres<{ id: number; writer: string }>({ url: db.url, table: 'fenced' })
    const b = postgres<{ id: number; writer: string }>({ url: db.url, table: 'fenced' })
    await a.open(handContext('fenced'))
    await b.open(handContext('fenced'))
    try {
      assert.deepEqual(await b.positions!([0, 1]), new Map())
      await a.write(batch('a', 0, 0, 10))
      // b still believes partition 0 stands at 0: it lost the partition to a.
      await assert.rejects(b.write(batch('b', 0, 0, 10)), (e: unknown) => {
        assert.ok(e instanceof StalePositionError, String(e))
        assert.match(e.message, /partition 0 stands at 10, this batch starts at 0/)
        return true
      })
      // A batch spanning a good and a stale partition writes nothing at all.
      const both = batch('b', 1, 0, 5)
      const mixed = {
        records: [...both.records, ...batch('b', 0, 0, 3).records],
        positions: new Map([...both.positions, [0, { from: 0, to: 3 }]]),
      }
      await assert.rejects(b.write(mixed), StalePositionError)
      assert.deepEqual(await db.query('SELECT writer, count(*)::int AS n FROM fenced GROUP BY writer'), [
        { writer: 'a', n: 10 },
      ])
      assert.deepEqual(await b.positions!([0, 1]), new Map([[0, 10]]))
      // Having read the positions again, b goes on from there.
      await b.write(batch('b', 0, 10, 15))
      assert.deepEqual(await a.positions!([0, 1]), new Map([[0, 15]]))
      assert.equal((await db.query('SELECT count(*)::int AS n FROM fenced'))[0]!.n, 15)
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('open() fails naming the table and what is missing', async () => {
    await db.query(
      'CREATE TABLE narrow (id int PRIMARY KEY, card text, total int GENERATED ALWAYS AS (id * 2) STORED)',
    )
    const context = handContext('open-checks')
    const opens = async (options: Parameters<typeof postgres>[0], message: RegExp) => {
      const sink = postgres(options)
      await assert.rejects(sink.open(context), (e: Error) => {
        assert.match(e.message, message)
        return true
      })
    }
    await opens({ url: db.url, table: 'nowhere' }, /PostgreSQL table nowhere does not exist/)
    await opens(
      { url: db.url, table: 'public.Narrow' },
      /table public\.Narrow does not exist.*case-sensitive/,
    )
    await opens(
      { url: db.url, table: 'narrow', columns: ['id', 'amount', 'when'] },
      /public\.narrow has no column "amount", "when" \(it has "id", "card", "total"\)/,
    )
    await opens(
      { url: db.url, table: 'narrow', columns: ['id', 'total'] },
      /total of public\.narrow are generated/,
    )
    await opens(
      { url: db.url, table: 'narrow', key: ['card'] },
      /upsert key \(card\) of public\.narrow is not a primary key or unique index/,
    )
    await opens(
      { url: 'postgres://postgres@127.0.0.1:1/none', table: 'narrow' },
      /cannot connect to PostgreSQL at 127\.0\.0\.1:1\/none/,
    )
    // And through the runner: the connector stops with that message.
    await log.createTopic('to-nowhere', { partitions: 1 })
    const reports: string[] = []
    const connector: SinkConnector<unknown> = {
      kind: 'sink',
      name: 'to-nowhere',
      topic: topic('to-nowhere'),
      sink: postgres({ url: db.url, table: 'nowhere' }),
    }
    const runner = new ConnectorRunner(log, [connector], { report: (m) => reports.push(m) })
    runner.start()
    await assert.rejects(runner.whenDone(), /table nowhere does not exist/)
    assert.equal(runner.status()[0]!.state, 'stopped')
    assert.match(reports.join('\n'), /connector to-nowhere stopped: .*nowhere does not exist/)
  })

  for (const where of ['topic', 'table'] as const) {
    test(`rows PostgreSQL refuses are dead-lettered (${where}); the rest are written`, async () => {
      const table = `payments_${where}`
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, card text NOT NULL,
        amount numeric(8,2) CONSTRAINT non_negative CHECK (amount >= 0))`)
      await log.createTopic(table, { partitions: 2 })
      const values: Record<string, unknown>[] = []
      const bad = new Map<number, RegExp>()
      for (let i = 0; i < 1_000; i++) {
        if (i % 97 === 5) {
          values.push({ id: i, card: 'c', amount: -1 })
          bad.set(i, /violates check constraint "non_negative".*\[SQLSTATE 23514\]/)
        } else if (i % 131 === 7) {
          values.push({ id: i, amount: 3 })
          bad.set(i, /null value in column "card".*\[SQLSTATE 23502\]/)
        } else if (i === 500) {
          values.push({ id: i, card: 'c', amount: 'lots' })
          bad.set(i, /invalid input syntax for type numeric.*\[SQLSTATE 22P02\]/)
        } else if (i === 600) {
          // Record 2 is in the same partition (0), earlier: it is the one that stays.
          values.push({ id: 2, card: 'dup', amount: 1 })
          bad.set(
            i,
            /duplicate key value violates unique constraint ".*_pkey" \(Key \(id\)=\(2\) already exists\.\)/,
          )
        } else if (i === 700) {
          values.push({ id: i, card: 'c', amount: 1, colour: 'red' })
          bad.set(i, new RegExp(`field\\(s\\) "colour" have no writable column in public\\.${table}`))
        } else {
          values.push({ id: i, card: `c${i % 10}`, amount: i / 4 })
        }
      }
      await produce(log, table, values, (_v, i) => i % 2)
      const connector = `${table}-dlq-test`
      const runner = start(
        connector,
        table,
        postgres({
          url: db.url,
          table,
          batchSize: 250,
          ...(where === 'table' ? { deadLetterTable: 'sluice_sink_dead_letters' } : {}),
        }),
      )
      await drained(connector, table)
      await runner.stop()

      const rows = await db.query<{ id: number; card: string }>(`SELECT id, card FROM ${table} ORDER BY id`)
      const good = [...values.keys()].filter((i) => !bad.has(i))
      assert.deepEqual(
        rows.map((r) => [r.id, r.card]),
        good.map((i) => [i, values[i]!.card]),
      )
      // Each dead letter: where it came from (index = offset · 2 + partition), why, and the value.
      const letters = new Map<number, { error: string; value: unknown }>()
      if (where === 'table') {
        const stored = await db.query<{ partition: number; offset: string; value: string; error: string }>(
          `SELECT partition, "offset", value, error FROM sluice_sink_dead_letters WHERE connector = $1`,
          [connector],
        )
        for (const l of stored)
          letters.set(Number(l.offset) * 2 + l.partition, { error: l.error, value: JSON.parse(l.value) })
        assert.equal((await readTopic(log, `${connector}-dlq`)).length, 0)
      } else {
        for (const r of await readTopic(log, `${connector}-dlq`)) {
          const at =
            Number(r.headers['sluice-source-offset']) * 2 + Number(r.headers['sluice-source-partition'])
          assert.equal(r.headers['sluice-source-topic'], table)
          assert.equal(r.headers['sluice-connector'], connector)
          letters.set(at, {
            error: r.headers['sluice-error']!,
            value: JSON.parse(Buffer.from(r.value!).toString()),
          })
        }
        assert.equal(runner.status()[0]!.deadLetters, bad.size)
      }
      assert.deepEqual(
        [...letters.keys()].sort((x, y) => x - y),
        [...bad.keys()],
      )
      for (const [i, pattern] of bad) {
        const letter = letters.get(i)!
        assert.match(letter.error, pattern, `dead letter of record ${i}`)
        assert.deepEqual(letter.value, values[i])
      }
      assert.equal(runner.status()[0]!.errors, 0, 'refused rows do not fail the batch')
    })
  }

  test('a PostgreSQL outage mid-run: the sink retries until the server is back, and the table is exact', async () => {
    await db.query('CREATE TABLE outage_rows (part int, off bigint, id int)')
    await log.createTopic('outage', { partitions: 2 })
    const values = Array.from({ length: 20_000 }, (_, i) => ({ id: i }))
    await produce(log, 'outage', values, (_v, i) => i % 2)
    // A connection of our own, opened before the outage: the outage only refuses new ones.
    const watcher = new pg.Client({ connectionString: db.url, application_name: 'sluice-test' })
    await watcher.connect()
    const admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
    const runner = start(
      'outage-sink',
      'outage',
      postgres<{ id: number }>({
        url: db.url,
        table: 'outage_rows',
        batchSize: 100,
        columns: (v, r) => ({ part: r.partition, off: r.offset, id: v.id }),
      }),
    )
    try {
      await until(() => runner.status()[0]!.records >= 1_000, 'the sink to be under way')
      // The outage: no new connections, and the sink's are cut.
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`)
      await watcher.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'sluice'`,
      )
      await until(() => runner.status()[0]!.errors >= 3, 'writes and position reads to fail')
      assert.notEqual(runner.status()[0]!.state, 'stopped', runner.status()[0]!.lastError)
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`)
      await drained('outage-sink', 'outage')
    } finally {
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => {})
      await admin.end()
      await watcher.end()
      await runner.stop()
    }
    const dupes = await db.query('SELECT part, off FROM outage_rows GROUP BY part, off HAVING count(*) > 1')
    assert.deepEqual(dupes, [])
    const rows = await db.query<{ id: number; part: number; off: string }>(
      'SELECT id, part, off FROM outage_rows ORDER BY id',
    )
    assert.deepEqual(
      rows.map((r) => [r.id, r.part, Number(r.off)]),
      values.map((v, i) => [v.id, i % 2, Math.floor(i / 2)]),
    )
    assert.match(
      runner.status()[0]!.lastError!,
      /^postgres sink outage-sink \(public\.outage_rows\): .*(not currently accepting connections|terminat)/,
    )
  })

  test("onRejected: 'fail' stops at the refused record, naming it, until the table is fixed", async () => {
    await db.query('CREATE TABLE strict_payments (id int, amount int CONSTRAINT positive CHECK (amount > 0))')
    await log.createTopic('strict', { partitions: 1 })
    const values = Array.from({ length: 60 }, (_, i) => ({ id: i, amount: i === 25 ? -5 : i + 1 }))
    await produce(log, 'strict', values, () => 0)
    const runner = start(
      'strict-fail',
      'strict',
      postgres({ url: db.url, table: 'strict_payments', batchSize: 10, onRejected: 'fail' }),
    )
    await until(() => runner.status()[0]!.errors >= 2, 'the refused batch to be retried')
    const status = runner.status()[0]!
    assert.equal(status.state, 'retrying')
    assert.match(
      status.lastError!,
      /postgres sink strict-fail \(public\.strict_payments\): the record at partition 0 offset 25 was refused: .*violates check constraint "positive".*SQLSTATE 23514/,
    )
    // Batches before the bad one are in; nothing of its batch or later.
    assert.equal((await db.query('SELECT count(*)::int AS n FROM strict_payments'))[0]!.n, 20)
    assert.deepEqual(await stored('strict-fail'), new Map([[0, 20]]))
    await db.query('ALTER TABLE strict_payments DROP CONSTRAINT positive')
    await drained('strict-fail', 'strict')
    await runner.stop()
    const rows = await db.query('SELECT id, amount FROM strict_payments ORDER BY id')
    assert.deepEqual(rows, values)
  })
})
